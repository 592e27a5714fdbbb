package conformance

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// registryModules is the registry plan (DESIGN.md §5.3): the candidate's
// replica follows the suite's registry, and fails closed when cut off.
func (e *env) registryModules() []module {
	return []module{
		{PlanRegistry, "replica/bundle-replays-to-its-state", "REGISTRY.md §12; node/registry DESIGN §14", func(ctx context.Context, e *env, r *record) {
			idx, err := e.suiteIndex(ctx)
			if err != nil {
				r.fail("the suite's registry", "a bundle", "%v", err)
				return
			}
			if !e.waitApplied(ctx, idx, 30*time.Second) {
				r.fail("the replica follows the registry", fmt.Sprintf("index %d applied", idx), "not within 30 s")
				return
			}
			a := e.w.do(ctx, request{method: http.MethodGet, path: "/v1/registry/bundle", contentType: "-"})
			r.saw([]byte("GET /v1/registry/bundle"), a)
			if a.err != nil || a.status != 200 {
				r.fail("GET /v1/registry/bundle", "200 with the trust bundle", "%d %v", a.status, a.err)
				return
			}
			b, err := trust.ParseBundle(a.body)
			if err != nil {
				r.fail("the bundle decodes (REGISTRY.md §12)", "a crvsx-trust-bundle/1", "%v", err)
				return
			}
			st, _, err := trust.Replay(b, e.suite.File.GenesisSHA256)
			if err != nil {
				r.fail("the bundle replays from the pinned genesis (REGISTRY.md §12)", "a state", "%v", err)
				return
			}
			mine, err := e.suiteState(ctx)
			if err != nil {
				r.fail("the suite's registry", "a bundle", "%v", err)
				return
			}
			cur, _ := e.status(ctx)
			if st.AppliedIndex() < mine.AppliedIndex() || st.ChainHead() != chainHeadAt(ctx, e, st.AppliedIndex(), mine) {
				r.fail("the candidate's bundle is the suite's history (REGISTRY.md §8 hash chain)", mine.ChainHead(), "%s at %d", st.ChainHead(), st.AppliedIndex())
			}
			if cur.ChainHead != "" && cur.AppliedIndex == st.AppliedIndex() && cur.ChainHead != st.ChainHead() {
				r.fail("the replica's status reports the head its bundle replays to", st.ChainHead(), "%s", cur.ChainHead)
			}
		}},
		{PlanRegistry, "replica/applies-a-new-key", "REGISTRY.md §7 key.add; node/registry DESIGN §13", func(ctx context.Context, e *env, r *record) {
			k, err := jws.GenerateKey(e.suite.R().Member, jws.AlgES256)
			if err != nil {
				r.fail("a key", "generated", "%v", err)
				return
			}
			jwk, _ := jws.MarshalPublicJWK(k.Public())
			entry, err := e.command(trust.CmdKeyAdd, trust.KeyAddArgs{Member: e.suite.R().Member, Key: trust.KeySpec{Role: trust.RoleSigning, JWK: jwk,
				NotBefore: trust.TimestampOf(now().Add(-time.Minute)), NotAfter: trust.TimestampOf(now().AddDate(1, 0, 0))}}, k)
			if err == nil {
				err = e.submit(ctx, entry)
			}
			if err != nil {
				r.fail("the suite commits key.add", "accepted", "%v", err)
				return
			}
			// A message signed by the new key is accepted once the
			// candidate's replica has the key: within 10 s.
			deadline := time.Now().Add(10 * time.Second)
			for {
				id := protocol.NewUUID()
				tok := mustSign(k, e.birth(e.suite.R(), id, now()))
				a := e.w.do(ctx, request{as: MemberR, body: tok})
				r.saw(tok, a)
				c := e.accepted(a, sentMessage{jws: tok, messageID: id, sender: e.suite.R()})
				if len(c) == 0 {
					return
				}
				if time.Now().After(deadline) {
					r.conditions = append(r.conditions, c...)
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
		}},
		{PlanRegistry, "replica/cut-off-reports-staleness-and-fails-closed", "node/registry DESIGN §14", func(ctx context.Context, e *env, r *record) {
			if err := e.net.CutOff(ctx); err != nil {
				r.fail("the suite cuts the candidate off", "its voters stopped", "%v", err)
				return
			}
			restored := false
			defer func() {
				if !restored {
					_ = e.net.Restore(context.WithoutCancel(ctx))
				}
			}()
			bound := time.Duration(e.suite.File.Policy.StalenessBoundSeconds) * time.Second
			deadline := time.Now().Add(bound + 30*time.Second)
			var st status
			var a answer
			for {
				st, a = e.status(ctx)
				if st.Stale || time.Now().After(deadline) {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			r.saw([]byte("GET /v1/registry/status"), a)
			if !st.Stale {
				r.fail("past the staleness bound the replica says it is stale (DESIGN §14)", "stale: true within "+(bound+30*time.Second).String(), "stale: false")
			} else if a.header.Get("Crvs-Registry-Stale") != "true" {
				r.fail("the staleness headers (DESIGN §14)", "Crvs-Registry-Stale: true", "%q", a.header.Get("Crvs-Registry-Stale"))
			}
			id := protocol.NewUUID()
			tok := mustSign(e.suite.A().Signing[0], e.birth(e.suite.A(), id, now()))
			m := e.w.do(ctx, request{as: MemberA, body: tok})
			r.saw(tok, m)
			mt, _, _ := mime.ParseMediaType(m.header.Get("Content-Type"))
			if m.err != nil || m.status != 503 || mt != protocol.ProblemContentType {
				r.fail("a stale replica fails closed for new messages (DESIGN §14)", "503 with a problem document", "%d %s", m.status, clip(m.body))
			}
			if err := e.net.Restore(ctx); err != nil {
				r.fail("the suite restores its voters", "running", "%v", err)
				return
			}
			restored = true
			if err := e.waitFresh(ctx, 90*time.Second); err != nil {
				r.fail("the replica is in sync again once its leader returns", "stale: false", "%v", err)
				return
			}
			e.acceptedAfter(ctx, r, "")
		}},
	}
}

// suiteState replays the suite's own bundle.
func (e *env) suiteState(ctx context.Context) (*trust.State, error) {
	raw, err := e.net.Bundle(ctx)
	if err != nil {
		return nil, err
	}
	b, err := trust.ParseBundle(raw)
	if err != nil {
		return nil, err
	}
	st, _, err := trust.Replay(b, e.suite.File.GenesisSHA256)
	return st, err
}

// chainHeadAt is the suite's chain head at index (its own state when the
// candidate is at or past it).
func chainHeadAt(ctx context.Context, e *env, index uint64, mine *trust.State) string {
	if index <= mine.AppliedIndex() {
		raw, err := e.net.Bundle(ctx)
		if err != nil {
			return ""
		}
		b, err := trust.ParseBundle(raw)
		if err != nil {
			return ""
		}
		var keep []trust.BundleEntry
		for _, x := range b.Entries {
			if x.Index <= index {
				keep = append(keep, x)
			}
		}
		b.Entries, b.ChainHead = keep, ""
		st, _, err := trust.Replay(b, e.suite.File.GenesisSHA256)
		if err != nil {
			return ""
		}
		return st.ChainHead()
	}
	return mine.ChainHead()
}
