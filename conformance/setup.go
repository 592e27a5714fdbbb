package conformance

import (
	"context"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// registrySetup is what the suite changed in the registry before the
// receiver's key modules: R's keys in each state of REGISTRY.md §10.
type registrySetup struct {
	done bool
	err  error
	// retired is R's key retired at or after retiredAt (the suite's
	// clock before it submitted the retirement); compromised is R's key
	// revoked as compromised since compromisedSince.
	retired, compromised        *jws.Signer
	retiredAt, compromisedSince time.Time
	notYetValid, shortLived     *jws.Signer
	shortLivedUntil             time.Time
	index                       uint64 // the suite's applied index after the set-up
}

// command builds and signs a registry command of R (a self command: R's
// governance key, plus the proofs of possession of keys it introduces).
func (e *env) command(typ string, args any, pop ...*jws.Signer) ([]byte, error) {
	r := e.suite.R()
	c, err := trust.NewCommand(e.suite.File.GenesisSHA256, protocol.NewUUID(), typ, trust.TimestampOf(time.Now()), r.Member, args)
	if err != nil {
		return nil, err
	}
	return c.Sign(append([]*jws.Signer{r.Governance}, pop...)...)
}

// submit applies a command through the suite's network and requires it
// accepted.
func (e *env) submit(ctx context.Context, entry []byte) error {
	outcome, reason, err := e.net.Submit(ctx, entry)
	if err != nil {
		return err
	}
	if outcome != string(trust.OutcomeAccepted) {
		return fmt.Errorf("the suite's registry %s the command: %s", outcome, reason)
	}
	return nil
}

// suiteIndex is the applied index of the suite's replicas (the last entry
// of its trust bundle).
func (e *env) suiteIndex(ctx context.Context) (uint64, error) {
	raw, err := e.net.Bundle(ctx)
	if err != nil {
		return 0, err
	}
	b, err := trust.ParseBundle(raw)
	if err != nil {
		return 0, err
	}
	if len(b.Entries) == 0 {
		return 0, nil
	}
	return b.Entries[len(b.Entries)-1].Index, nil
}

// registrySetup adds two keys to R and retires one and revokes the other
// as compromised since two minutes ago, and adds a key valid only from
// tomorrow and one valid for a few seconds; then waits until the candidate
// applied it all. Every key is new, so that a suite directory serves run
// after run. Done once per run; its error fails every module that needs
// it.
func (e *env) registrySetup(ctx context.Context) registrySetup {
	if e.setup.done {
		return e.setup
	}
	e.setup.done = true
	s := &e.setup
	r := e.suite.R()
	s.compromisedSince = now().Add(-2 * time.Minute)
	keys := make([]*jws.Signer, 4)
	for i := range keys {
		var err error
		if keys[i], err = jws.GenerateKey(r.Member, jws.AlgES256); err != nil {
			s.err = err
			return *s
		}
	}
	s.retired, s.compromised, s.notYetValid, s.shortLived = keys[0], keys[1], keys[2], keys[3]
	spec := func(k *jws.Signer, from, until time.Time) trust.KeySpec {
		jwk, err := jws.MarshalPublicJWK(k.Public())
		if err != nil {
			panic(err)
		}
		return trust.KeySpec{Role: trust.RoleSigning, JWK: jwk, NotBefore: trust.TimestampOf(from), NotAfter: trust.TimestampOf(until)}
	}
	s.shortLivedUntil = now().Add(4 * time.Second)
	year := 365 * 24 * time.Hour
	add := func(k *jws.Signer, from, until time.Time) step {
		return step{trust.CmdKeyAdd, trust.KeyAddArgs{Member: r.Member, Key: spec(k, from, until)}, []*jws.Signer{k}}
	}
	steps := []step{
		add(s.retired, now().Add(-time.Hour), now().Add(year)),
		add(s.compromised, now().Add(-time.Hour), now().Add(year)),
		add(s.notYetValid, now().Add(24*time.Hour), now().Add(year)),
		add(s.shortLived, now().Add(-time.Minute), s.shortLivedUntil),
	}
	if err := e.apply(ctx, steps); err != nil {
		s.err = err
		return *s
	}
	s.retiredAt = now()
	err := e.apply(ctx, []step{
		{trust.CmdKeyRetire, trust.KeyRetireArgs{Kid: s.retired.Kid()}, nil},
		{trust.CmdKeyRevoke, trust.KeyRevokeArgs{Kid: s.compromised.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: trust.TimestampOf(s.compromisedSince)}, nil},
	})
	if err != nil {
		s.err = err
		return *s
	}
	if s.index, err = e.suiteIndex(ctx); err != nil {
		s.err = err
		return *s
	}
	if !e.waitApplied(ctx, s.index, 30*time.Second) {
		s.err = fmt.Errorf("the candidate did not apply the suite's registry commands (index %d) within 30 s", s.index)
	}
	return *s
}

// step is one registry command of R: its type, arguments and the proofs
// of possession it needs.
type step struct {
	typ  string
	args any
	pop  []*jws.Signer
}

// apply submits R's commands in order and requires each accepted.
func (e *env) apply(ctx context.Context, steps []step) error {
	for _, st := range steps {
		entry, err := e.command(st.typ, st.args, st.pop...)
		if err == nil {
			err = e.submit(ctx, entry)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", st.typ, err)
		}
	}
	return nil
}
