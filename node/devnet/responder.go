package devnet

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ecrn/crvsx/node/internal/scaffold"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// The devnet's crisis responder (protocol/SPEC.md §11): UNHCR, registered
// by the founders' governance keys, asks TJ about a displaced person whose
// record TJ's registry holds in Cyrillic.

// ResponderID is the devnet's requester organisation.
const ResponderID = "INT-UNHCR"

var (
	// DisplacedRecords are TJ's person records, one JSON object a line
	// (node/records README): the displaced person, his brother, his
	// daughter and an unrelated widow whose death is registered.
	//go:embed displaced/records-tj.jsonl
	DisplacedRecords []byte
	// DisplacedSubject is the responder's subject: the name as the
	// person spelled it in Latin letters, the birth year only, his
	// mother's name.
	//go:embed displaced/subject.json
	DisplacedSubject []byte
)

// Responder is a registered requester's keys: its query signing key and
// its client TLS key (whose pin the registry holds).
type Responder struct {
	ID      string
	Signer  *jws.Signer
	TLS     tls.Certificate
	Dir     string // DIR/INT-UNHCR
	KeyFile string // the signing key (private JWK, 0600)
	TLSKey  string // the client TLS key (PEM, 0600)
	Subject string // the subject file of the demo's query
}

// RegisterResponder makes UNHCR a requester of the network: its keys are
// generated into DIR/INT-UNHCR (kept: a network started again on the same
// DIR finds them), and requester.register, signed by every founder's
// governance key, is submitted through the first running node; it waits
// until every running node's trust view has it. Already registered, it
// only loads the keys.
func (n *Network) RegisterResponder(ctx context.Context) (*Responder, error) {
	r := &Responder{ID: ResponderID, Dir: filepath.Join(n.Dir, ResponderID)}
	r.KeyFile = filepath.Join(r.Dir, "signing.private.jwk")
	r.TLSKey = filepath.Join(r.Dir, "client.tls.key")
	r.Subject = filepath.Join(r.Dir, "subject.json")
	via := n.anyNode()
	if via == nil {
		return nil, errors.New("devnet: no node is running")
	}
	if err := r.loadOrGenerate(); err != nil {
		return nil, err
	}
	if _, ok := via.Node().Registry().View().Requester(r.ID); ok {
		return r, nil
	}
	pin, err := pintls.Pin(r.TLS)
	if err != nil {
		return nil, err
	}
	jwk, err := jws.MarshalPublicJWK(r.Signer.Public())
	if err != nil {
		return nil, err
	}
	now := trust.TimestampOf(time.Now())
	spec := trust.RequesterSpec{
		ID: r.ID, Name: "United Nations High Commissioner for Refugees", OrganizationType: "humanitarian-un",
		Keys:          []trust.RequesterKeySpec{{JWK: jwk, NotBefore: now - 60, NotAfter: now + 2*365*86400}},
		TLSSPKISHA256: pin,
		Countries:     n.Countries(),
		Questions:     []string{"is-registered", "has-birth-record", "vital-status", "civil-status"},
		Bases:         []string{"data-subject-consent", "vital-interest"},
		Purposes:      []string{"humanitarian-verification", "identification-assistance", "family-reunification"},
		Rate:          trust.Rate{PerMinute: 60, Burst: 10},
	}
	cmd, err := trust.NewCommand(n.Manifest.GenesisSHA256, protocol.NewUUID(), trust.CmdRequesterRegister, now, via.Country,
		trust.RequesterRegisterArgs{Requester: spec})
	if err != nil {
		return nil, err
	}
	var govs []*jws.Signer
	for _, c := range n.Countries() {
		if g := n.Members[c].Gov; g != nil {
			govs = append(govs, g)
		}
	}
	signed, err := cmd.Sign(govs...)
	if err != nil {
		return nil, err
	}
	res, err := via.Node().Registry().Submit(ctx, signed)
	if err != nil {
		return nil, err
	}
	if rerr := res.Err(); rerr != nil {
		return nil, rerr
	}
	n.Log.Info("demo: requester.register applied by the registry", slog.String("requester", r.ID), slog.String("tls_pin", pintls.ShortPin(pin)))
	for _, c := range n.Countries() {
		m := n.Members[c].Node()
		for m != nil {
			if _, ok := m.Registry().View().Requester(r.ID); ok {
				break
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s never saw %s: %w", c, r.ID, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return r, nil
}

// loadOrGenerate reads the responder's keys from its folder, or makes them.
func (r *Responder) loadOrGenerate() error {
	if b, err := os.ReadFile(r.KeyFile); err == nil {
		if r.Signer, err = jws.ParsePrivateJWK(b); err != nil {
			return fmt.Errorf("%s: %w", r.KeyFile, err)
		}
		crt, err := os.ReadFile(r.TLSKey + ".crt")
		if err != nil {
			return err
		}
		key, err := os.ReadFile(r.TLSKey)
		if err != nil {
			return err
		}
		r.TLS, err = pintls.Load(crt, key)
		return err
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return err
	}
	var err error
	if r.Signer, err = jws.GenerateKey(r.ID, jws.AlgES256); err != nil {
		return err
	}
	if r.TLS, err = pintls.Generate(r.ID, jws.AlgES256); err != nil {
		return err
	}
	priv, err := jws.MarshalPrivateJWK(r.Signer)
	if err != nil {
		return err
	}
	crt, key, err := pintls.Encode(r.TLS)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{r.KeyFile, priv, 0o600}, {r.TLSKey, key, 0o600}, {r.TLSKey + ".crt", crt, 0o644}, {r.Subject, bytes.Clone(DisplacedSubject), 0o644}} {
		if err := scaffold.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// anyNode is the first running member (in the manifest's order).
func (n *Network) anyNode() *Member {
	for _, c := range n.Countries() {
		if m := n.Members[c]; m.Node() != nil {
			return m
		}
	}
	return nil
}
