package trust_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// TestJoin is node/registry DESIGN.md §13: a node joins only with the TLS key pinned for
// it, answering a challenge bound to the network and the TLS session.
func TestJoin(t *testing.T) {
	n, s := net3(t)
	key, spki := trusttest.TLSKey(t)
	ns := trusttest.NodeSpec("KZ", 2, trust.RoleNonvoter)
	ns.TLSSPKISHA256 = protocol.SPKIPin(spki)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdNodeRegister, "KZ", trust.NodeRegisterArgs{Node: ns}), n.Member("KZ").Gov), trust.OutcomeAccepted)
	challenge := bytes.Repeat([]byte{7}, 32)
	exporter := bytes.Repeat([]byte{9}, 32)
	sign := func(k *ecdsa.PrivateKey, nodeID string) []byte {
		d := sha256.Sum256(trust.JoinTranscript(n.Genesis.Hash(), nodeID, challenge, exporter))
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	view := trust.NewView(s)

	t.Run("ok/join-with-pinned-key", func(t *testing.T) {
		if err := view.VerifyJoin(ns.ID, spki, challenge, exporter, sign(key, ns.ID)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-tls-key-not-matching-pin", func(t *testing.T) {
		other, otherSPKI := trusttest.TLSKey(t)
		err := view.VerifyJoin(ns.ID, otherSPKI, challenge, exporter, sign(other, ns.ID))
		if trust.ReasonOf(err) != trust.ReasonNodePinMismatch {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-signature-for-another-session", func(t *testing.T) {
		sig := sign(key, ns.ID)
		err := view.VerifyJoin(ns.ID, spki, challenge, bytes.Repeat([]byte{1}, 32), sig)
		if trust.ReasonOf(err) != trust.ReasonJoinSignature {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-unregistered-node", func(t *testing.T) {
		err := view.VerifyJoin("KZ-N7", spki, challenge, exporter, sign(key, "KZ-N7"))
		if trust.ReasonOf(err) != trust.ReasonNodeUnknown {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-short-challenge", func(t *testing.T) {
		err := view.VerifyJoin(ns.ID, spki, challenge[:8], exporter, sign(key, ns.ID))
		if trust.ReasonOf(err) != trust.ReasonJoinChallenge {
			t.Fatal(err)
		}
	})
	t.Run("fail/peer-of-suspended-member", func(t *testing.T) {
		s2 := n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
		if err := trust.NewView(s2).CheckPeer(ns.ID, spki); trust.ReasonOf(err) != trust.ReasonNodeNotActive {
			t.Fatal(err)
		}
	})
	t.Run("fail/removed-node-returning", func(t *testing.T) {
		s2 := n.MustApply(s, n.Sign(n.Command(trust.CmdNodeRemove, "KZ", trust.NodeRemoveArgs{Node: ns.ID}), n.Member("KZ").Gov), trust.OutcomeAccepted)
		if err := trust.NewView(s2).CheckPeer(ns.ID, spki); trust.ReasonOf(err) != trust.ReasonNodeUnknown {
			t.Fatal(err)
		}
	})
}
