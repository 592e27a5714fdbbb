package registry_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/node/registry/registrytest"
)

// TestJoin is DESIGN.md §13: a node joins only with the TLS key pinned for
// it, answering a challenge bound to the network and the TLS session.
func TestJoin(t *testing.T) {
	n, s := net3(t)
	key, spki := registrytest.TLSKey(t)
	ns := registrytest.NodeSpec("KZ", 2, registry.RoleNonvoter)
	ns.TLSSPKISHA256 = registry.SPKIPin(spki)
	s = n.MustApply(s, n.Sign(n.Command(registry.CmdNodeRegister, "KZ", registry.NodeRegisterArgs{Node: ns}), n.Member("KZ").Gov), registry.OutcomeAccepted)
	challenge := bytes.Repeat([]byte{7}, 32)
	exporter := bytes.Repeat([]byte{9}, 32)
	sign := func(k *ecdsa.PrivateKey, nodeID string) []byte {
		d := sha256.Sum256(registry.JoinTranscript(n.Genesis.Hash(), nodeID, challenge, exporter))
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	view := registry.NewTrustView(s)

	t.Run("ok/join-with-pinned-key", func(t *testing.T) {
		if err := view.VerifyJoin(ns.ID, spki, challenge, exporter, sign(key, ns.ID)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-tls-key-not-matching-pin", func(t *testing.T) {
		other, otherSPKI := registrytest.TLSKey(t)
		err := view.VerifyJoin(ns.ID, otherSPKI, challenge, exporter, sign(other, ns.ID))
		if registry.ReasonOf(err) != registry.ReasonNodePinMismatch {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-signature-for-another-session", func(t *testing.T) {
		sig := sign(key, ns.ID)
		err := view.VerifyJoin(ns.ID, spki, challenge, bytes.Repeat([]byte{1}, 32), sig)
		if registry.ReasonOf(err) != registry.ReasonJoinSignature {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-unregistered-node", func(t *testing.T) {
		err := view.VerifyJoin("KZ-N7", spki, challenge, exporter, sign(key, "KZ-N7"))
		if registry.ReasonOf(err) != registry.ReasonNodeUnknown {
			t.Fatal(err)
		}
	})
	t.Run("fail/join-short-challenge", func(t *testing.T) {
		err := view.VerifyJoin(ns.ID, spki, challenge[:8], exporter, sign(key, ns.ID))
		if registry.ReasonOf(err) != registry.ReasonJoinChallenge {
			t.Fatal(err)
		}
	})
	t.Run("fail/peer-of-suspended-member", func(t *testing.T) {
		s2 := n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...), registry.OutcomeAccepted)
		if err := registry.NewTrustView(s2).CheckPeer(ns.ID, spki); registry.ReasonOf(err) != registry.ReasonNodeNotActive {
			t.Fatal(err)
		}
	})
	t.Run("fail/removed-node-returning", func(t *testing.T) {
		s2 := n.MustApply(s, n.Sign(n.Command(registry.CmdNodeRemove, "KZ", registry.NodeRemoveArgs{Node: ns.ID}), n.Member("KZ").Gov), registry.OutcomeAccepted)
		if err := registry.NewTrustView(s2).CheckPeer(ns.ID, spki); registry.ReasonOf(err) != registry.ReasonNodeUnknown {
			t.Fatal(err)
		}
	})
}
