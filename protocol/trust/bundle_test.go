package trust_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// TestBundle is REGISTRY.md §12: the offline verifier replays genesis and the
// log with the same Apply and verifies a message as of its own time.
func TestBundle(t *testing.T) {
	n, s := net3(t)
	tj := n.Member("TJ")
	var entries []trust.Entry
	apply := func(data []byte, want trust.Outcome) {
		t.Helper()
		e := n.Entry(data)
		next, res, err := trust.Apply(s, e)
		if err != nil || res.Outcome != want {
			t.Fatalf("%v %+v", err, res)
		}
		s = next
		entries = append(entries, e)
	}
	birth := message(t, tj.Sig, n.Now) // signed before the key is retired
	n.Advance(24 * time.Hour)
	newSig := n.NewKey("TJ", jws.AlgES256)
	apply(n.Sign(n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Sig.Kid(), Key: n.Spec(newSig, trust.RoleSigning, n.Now)}), tj.Gov, newSig), trust.OutcomeAccepted)
	apply(n.Sign(suspend(n, "TJ", "KZ"), tj.Gov), trust.OutcomeRejected) // rejected entries travel too
	n.Advance(time.Hour)
	apply(n.Sign(n.Command(trust.CmdKeyRevoke, "TR", trust.KeyRevokeArgs{Kid: n.Member("KZ").Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: n.Now - 600}), n.Gov("TR", "TJ")...), trust.OutcomeAccepted)

	raw, err := trust.NewBundle(n.Genesis, entries, s.ChainHead()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pin := n.Genesis.Hash()

	t.Run("ok/replay-verifies-message-as-of-its-time", func(t *testing.T) {
		b, err := trust.ParseBundle(raw)
		if err != nil {
			t.Fatal(err)
		}
		r, results, err := trust.Replay(b, pin)
		if err != nil {
			t.Fatal(err)
		}
		if r.Hash() != s.Hash() || r.ChainHead() != s.ChainHead() || len(results) != 3 || results[1].Reason != trust.ReasonBelowThreshold {
			t.Fatalf("replay differs: %+v", results)
		}
		view := trust.NewView(r)
		if err := verifyAt(view, birth, trusttest.GenesisTime+60); err != nil {
			t.Fatalf("old birth record: %v", err)
		}
		if err := verifyAt(view, message(t, tj.Sig, n.Now), n.Now); protocol.CodeOf(err) != protocol.CodeKeyNotValid {
			t.Fatalf("new message with the retired key: %v", err)
		}
		kz := n.Member("KZ").Sig
		if err := verifyAt(view, message(t, kz, n.Now), n.Now); protocol.CodeOf(err) != protocol.CodeKeyNotValid {
			t.Fatalf("message with a compromised key after T: %v", err)
		}
	})
	t.Run("fail/other-genesis-pin", func(t *testing.T) {
		b, _ := trust.ParseBundle(raw)
		if _, _, err := trust.Replay(b, sha256hex([]byte("another network"))); !errors.Is(err, trust.ErrGenesisPin) {
			t.Fatal(err)
		}
	})
	t.Run("fail/entry-dropped", func(t *testing.T) {
		b, _ := trust.ParseBundle(raw)
		b.Entries = b.Entries[1:] // e.g. hiding a rotation
		if _, _, err := trust.Replay(b, pin); !errors.Is(err, trust.ErrChainMismatch) {
			t.Fatal(err)
		}
	})
	t.Run("fail/entries-out-of-order", func(t *testing.T) {
		b, _ := trust.ParseBundle(raw)
		b.Entries[0], b.Entries[1] = b.Entries[1], b.Entries[0]
		if _, _, err := trust.Replay(b, pin); !errors.Is(err, trust.ErrInvalidBundle) {
			t.Fatal(err)
		}
	})
	t.Run("fail/not-a-bundle", func(t *testing.T) {
		if _, err := trust.ParseBundle([]byte(`{"format":"crvsx-trust-bundle/9","genesis":{"document":"","endorsements":[]},"entries":[]}`)); !errors.Is(err, trust.ErrInvalidBundle) {
			t.Fatal(err)
		}
	})
}
