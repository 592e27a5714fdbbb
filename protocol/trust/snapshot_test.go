package trust_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// busyState returns a state with a bit of everything: a proposal, a
// rotation, a revocation, a node, a certificate and a rejection.
func busyState(t *testing.T) (*trusttest.Network, *trust.State) {
	t.Helper()
	n, s := net3(t)
	tj := n.Member("TJ")
	c := suspend(n, "TJ", "KZ")
	c.Propose = true
	s = n.MustApply(s, n.Sign(c, tj.Gov), trust.OutcomeProposed)
	k := n.NewKey("TJ", jws.AlgEdDSA)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Sig.Kid(), Key: n.Spec(k, trust.RoleSigning, n.Now)}), tj.Gov, k), trust.OutcomeAccepted)
	n.Advance(time.Minute)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRevoke, "TR", trust.KeyRevokeArgs{Kid: n.Member("KZ").Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: n.Now - 30}), n.Gov("TR", "TJ")...), trust.OutcomeAccepted)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdNodeRegister, "KZ", trust.NodeRegisterArgs{Node: trusttest.NodeSpec("KZ", 2, trust.RoleVoter)}), n.Member("KZ").Gov), trust.OutcomeAccepted)
	s = n.MustApply(s, n.Sign(suspend(n, "TJ", "TR"), tj.Gov), trust.OutcomeRejected)
	return n, s
}

func TestSnapshot(t *testing.T) {
	n, s := busyState(t)
	snap, err := trust.MarshalSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/round-trip", func(t *testing.T) {
		r, err := trust.RestoreSnapshot(snap, n.Genesis)
		if err != nil {
			t.Fatal(err)
		}
		if r.Hash() != s.Hash() || r.ChainHead() != s.ChainHead() || r.AppliedIndex() != s.AppliedIndex() || r.ConsensusTime() != s.ConsensusTime() {
			t.Fatal("restored state differs")
		}
		again, _ := trust.MarshalSnapshot(r)
		if !bytes.Equal(again, snap) {
			t.Fatal("snapshot of the restored state differs")
		}
		// The restored state applies the next entry exactly as the original.
		p, _ := s.Proposal(s.Proposals()[0].ID)
		e := n.Entry(n.Sign(approve(n, "TR", p), n.Member("TR").Gov))
		a, ra, _ := trust.Apply(s, e)
		b, rb, _ := trust.Apply(r, e)
		if ra.Outcome != trust.OutcomeAccepted || ra != rb || a.ChainHead() != b.ChainHead() {
			t.Fatalf("original %+v, restored %+v", ra, rb)
		}
	})
	t.Run("ok/genesis-state", func(t *testing.T) {
		g := n.State()
		b, err := trust.MarshalSnapshot(g)
		if err != nil {
			t.Fatal(err)
		}
		r, err := trust.RestoreSnapshot(b, n.Genesis)
		if err != nil || r.Hash() != g.Hash() || r.ChainHead() != g.ChainHead() {
			t.Fatalf("%v", err)
		}
	})
	corruptions := []struct {
		name string
		mut  func([]byte) []byte
	}{
		{"fail/flipped-byte-in-body", func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"status":"active"`))
			b[i+11] = 'A'
			return b
		}},
		{"fail/checksum-altered", func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte(`"sha256":"`)) + 10
			b[i] ^= 1
			return b
		}},
		{"fail/not-canonical", func(b []byte) []byte { return append(b, '\n') }},
		{"fail/truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"fail/empty", func(b []byte) []byte { return nil }},
		{"fail/consistent-checksum-inconsistent-state-hash", func(b []byte) []byte {
			// Re-checksum a body whose content was edited: the state hash
			// inside no longer matches.
			return reseal(t, bytes.Replace(b, []byte(`"name":"Civil registry of KZ"`), []byte(`"name":"Civil registry of XX"`), 1))
		}},
	}
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.mut(bytes.Clone(snap))
			if _, err := trust.RestoreSnapshot(bad, n.Genesis); !errors.Is(err, trust.ErrCorruptSnapshot) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("fail/snapshot-of-other-network", func(t *testing.T) {
		other := trusttest.New(t, "TJ", "TR", "KZ")
		if _, err := trust.RestoreSnapshot(snap, other.Genesis); !errors.Is(err, trust.ErrCorruptSnapshot) {
			t.Fatalf("err = %v", err)
		}
	})
}

// reseal recomputes the outer checksum of an edited snapshot.
func reseal(t *testing.T, b []byte) []byte {
	t.Helper()
	const pre = `{"body":`
	i := bytes.LastIndex(b, []byte(`,"sha256":"`))
	if !bytes.HasPrefix(b, []byte(pre)) || i < 0 {
		t.Fatal("unexpected snapshot shape")
	}
	body := b[len(pre):i]
	return []byte(pre + string(body) + `,"sha256":"` + sha256hex(body) + `"}`)
}
