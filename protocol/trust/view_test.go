package trust_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// message signs a minimal event payload created at ts.
func message(t testing.TB, s *jws.Signer, ts trust.Timestamp) []byte {
	t.Helper()
	p, _ := json.Marshal(map[string]any{"messageType": protocol.MTLiveBirth, "createdAt": ts.Time().Format(time.RFC3339)})
	tok, err := s.Sign(protocol.TypEvent, p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verifyAt is what the exchange does: verify the signature with the view,
// then check the key's validity at the message's time.
func verifyAt(view *trust.View, tok []byte, ts trust.Timestamp) error {
	v, err := jws.Verify(tok, view, jws.Options{Typ: protocol.TypEvent})
	if err != nil {
		return err
	}
	return view.ValidAt(v.Kid, ts.Time())
}

// TestTrustView is REGISTRY.md §10 and SPEC §2: a key is valid for a message
// if it was valid at the message's time.
func TestTrustView(t *testing.T) {
	t.Run("ok/retired-key-still-verifies-old-message", func(t *testing.T) {
		n, s := net3(t)
		tj := n.Member("TJ")
		old := message(t, tj.Sig, n.Now)
		n.Advance(365 * 24 * time.Hour) // retired a year later
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: tj.Sig.Kid()}), tj.Gov), trust.OutcomeAccepted)
		view := trust.NewView(s)
		if err := verifyAt(view, old, trusttest.GenesisTime+60); err != nil {
			t.Fatalf("old message: %v", err)
		}
		if err := verifyAt(view, message(t, tj.Sig, n.Now), n.Now); protocol.CodeOf(err) != protocol.CodeKeyNotValid {
			t.Fatalf("message after retirement: %v", err)
		}
	})
	t.Run("ok/key-valid-before-compromise", func(t *testing.T) {
		_, tj, T, view := compromisedAt(t)
		if err := verifyAt(view, message(t, tj.Sig, T-1), T-1); err != nil {
			t.Fatalf("before T: %v", err)
		}
	})
	t.Run("fail/compromised-key-after-T", func(t *testing.T) {
		n, tj, T, view := compromisedAt(t)
		for _, ts := range []trust.Timestamp{T, T + 1, n.Now} {
			if err := verifyAt(view, message(t, tj.Sig, ts), ts); protocol.CodeOf(err) != protocol.CodeKeyNotValid {
				t.Fatalf("at %s: %v", ts, err)
			}
		}
	})
	t.Run("fail/governance-key-signs-a-message", func(t *testing.T) {
		n, s := net3(t)
		view := trust.NewView(s)
		err := verifyAt(view, message(t, n.Member("TJ").Gov, n.Now), n.Now)
		if protocol.CodeOf(err) != protocol.CodeKeyUnknown {
			t.Fatalf("%v", err)
		}
		if _, ok := view.KeyInfo(n.Member("TJ").Gov.Kid()); !ok {
			t.Fatal("KeyInfo must know governance keys")
		}
	})
	t.Run("fail/unknown-key", func(t *testing.T) {
		n, s := net3(t)
		err := verifyAt(trust.NewView(s), message(t, n.NewKey("TJ", jws.AlgES256), n.Now), n.Now)
		if protocol.CodeOf(err) != protocol.CodeKeyUnknown {
			t.Fatalf("%v", err)
		}
	})
	t.Run("fail/key-before-not-before-or-after-not-after", func(t *testing.T) {
		n, s := net3(t)
		view := trust.NewView(s)
		info, _ := view.KeyInfo(n.Member("TJ").Sig.Kid())
		for _, ts := range []trust.Timestamp{info.NotBefore - 1, info.NotAfter} {
			if err := view.ValidAt(info.Key.Kid, ts.Time()); protocol.CodeOf(err) != protocol.CodeKeyNotValid {
				t.Fatalf("at %s: %v", ts, err)
			}
		}
		if err := view.ValidAt(info.Key.Kid, (info.NotAfter - 1).Time()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fail/member-suspended-at-message-time", func(t *testing.T) {
		n, s := net3(t)
		kz := n.Member("KZ")
		before := n.Now
		n.Advance(time.Hour)
		s = n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
		suspendedAt := s.ConsensusTime()
		n.Advance(time.Hour)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdMemberReinstate, "TJ", trust.ReinstateArgs{Member: "KZ"}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
		view := trust.NewView(s)
		if err := view.ValidAt(kz.Sig.Kid(), before.Time()); err != nil {
			t.Fatalf("before suspension: %v", err)
		}
		if err := view.ValidAt(kz.Sig.Kid(), (suspendedAt + 60).Time()); protocol.CodeOf(err) != protocol.CodeKeyNotValid {
			t.Fatalf("while suspended: %v", err)
		}
		if err := view.ValidAt(kz.Sig.Kid(), n.Now.Time()); err != nil {
			t.Fatalf("after reinstatement: %v", err)
		}
	})
}

// TestLookupKeyDoesNotAllocate is the "lock-free, allocation-free" promise
// of REGISTRY.md §10.
func TestLookupKeyDoesNotAllocate(t *testing.T) {
	n, s := net3(t)
	view := trust.NewView(s)
	kid := n.Member("TR").Sig.Kid()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := view.LookupKey(kid); !ok {
			t.Fatal("not found")
		}
	})
	if allocs != 0 {
		t.Fatalf("LookupKey allocates %.1f times", allocs)
	}
}

// BenchmarkTrustViewLookupKey measures the message path's key lookup in a
// view of 30 members with 4 keys each.
func BenchmarkTrustViewLookupKey(b *testing.B) {
	members := make([]string, 30)
	for i := range members {
		members[i] = fmt.Sprintf("%c%c", 'A'+i/26, 'A'+i%26)
	}
	n := trusttest.New(b, members...)
	s := n.State()
	for _, id := range members {
		m := n.Member(id)
		for range 2 {
			k := n.NewKey(id, jws.AlgES256)
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyAdd, id, trust.KeyAddArgs{Member: id, Key: n.Spec(k, trust.RoleSigning, n.Now)}), m.Gov, k), trust.OutcomeAccepted)
		}
	}
	view := trust.NewView(s)
	kids := []string{n.Member("AA").Sig.Kid(), n.Member("BD").Sig.Kid(), n.Member("AP").Sig.Kid()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := view.LookupKey(kids[i%len(kids)]); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkTrustViewValidAt measures the validity check after a signature.
func BenchmarkTrustViewValidAt(b *testing.B) {
	n := trusttest.New(b, "TJ", "TR", "KZ")
	view := trust.NewView(n.State())
	kid := n.Member("TR").Sig.Kid()
	at := n.Now.Time()
	b.ReportAllocs()
	for b.Loop() {
		if err := view.ValidAt(kid, at); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTrustViewPublishedWhileRead is the shell's pattern: readers Load the
// view without locks while the applier Stores new ones. Run with -race.
func TestTrustViewPublishedWhileRead(t *testing.T) {
	n, s := net3(t)
	var cur atomic.Pointer[trust.View]
	cur.Store(trust.NewView(s))
	kid := n.Member("TR").Sig.Kid()
	at := n.Now.Time()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				v := cur.Load()
				if _, ok := v.LookupKey(kid); !ok {
					t.Error("key vanished")
					return
				}
				if err := v.ValidAt(kid, at); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 20 {
		c := n.Command(trust.CmdSchemaPublish, "TJ", trust.SchemaPublishArgs{Version: fmt.Sprintf("2.%d.0", i), SHA256: sha256hex([]byte{byte(i)})})
		s = n.MustApply(s, n.Sign(c, n.Gov("TJ", "KZ")...), trust.OutcomeAccepted)
		cur.Store(trust.NewView(s))
	}
	close(done)
	wg.Wait()
	if cur.Load().AppliedIndex() != s.AppliedIndex() {
		t.Fatal("last view not published")
	}
}

// TestViewRouting is the trust questions a member node asks of one view
// (REGISTRY.md §10): whom it may deliver to (a registered node of an
// active member), which node a message to a member goes to (the first
// registered), and who an mTLS client is (by pin, member active).
func TestViewRouting(t *testing.T) {
	n, s := net3(t)
	tj1 := trusttest.NodeSpec("TJ", 1, "")
	n.Advance(time.Hour)
	tj2 := trusttest.NodeSpec("TJ", 2, trust.RoleNonvoter)
	tj2.ID = "TJ-A0" // sorts before TJ-N1: the choice must not follow the id
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: tj2}), n.Member("TJ").Gov), trust.OutcomeAccepted)
	v := trust.NewView(s)
	t.Run("ok/first-registered-node-of-member", func(t *testing.T) {
		if nd, ok := v.NodeOfMember("TJ"); !ok || nd.ID != tj1.ID {
			t.Fatalf("NodeOfMember(TJ) = %v %v, want %s", nd.ID, ok, tj1.ID)
		}
	})
	t.Run("ok/active-node-and-pin", func(t *testing.T) {
		if nd, ok := v.ActiveNode(tj2.ID); !ok || nd.Member != "TJ" {
			t.Fatal("a registered node of an active member")
		}
		if nd, ok := v.ActiveNodeByPin(tj2.TLSSPKISHA256); !ok || nd.ID != tj2.ID {
			t.Fatal("by pin")
		}
	})
	t.Run("fail/unknown", func(t *testing.T) {
		if _, ok := v.ActiveNode("UZ-N1"); ok {
			t.Fatal("unknown node")
		}
		if _, ok := v.NodeOfMember("UZ"); ok {
			t.Fatal("unknown member")
		}
		if _, ok := v.ActiveNodeByPin(trusttest.NodeSpec("UZ", 1, "").TLSSPKISHA256); ok {
			t.Fatal("unknown pin")
		}
	})
	t.Run("fail/suspended-member", func(t *testing.T) {
		s := n.MustApply(s, n.Sign(suspend(n, "TR", "TJ"), n.Gov("TR", "KZ")...), trust.OutcomeAccepted)
		v := trust.NewView(s)
		if v.MemberActive("TJ") || !v.MemberActive("TR") {
			t.Fatal("MemberActive")
		}
		if _, ok := v.ActiveNode(tj1.ID); ok {
			t.Fatal("a suspended member's node is not a delivery target")
		}
		if _, ok := v.NodeOfMember("TJ"); ok {
			t.Fatal("no node for a suspended member")
		}
		if _, ok := v.ActiveNodeByPin(tj1.TLSSPKISHA256); ok {
			t.Fatal("a suspended member's node is not a peer")
		}
		if _, ok := v.Node(tj1.ID); !ok {
			t.Fatal("the node stays registered")
		}
	})
}

// compromisedAt is a network where TJ revoked its signing key, two hours
// after genesis, as compromised since T (one hour after genesis).
func compromisedAt(t *testing.T) (*trusttest.Network, *trusttest.Member, trust.Timestamp, *trust.View) {
	t.Helper()
	n, s := net3(t)
	tj := n.Member("TJ")
	T := n.Now + 3600
	n.Advance(2 * time.Hour)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRevoke, "TJ", trust.KeyRevokeArgs{Kid: tj.Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: T}), tj.Gov), trust.OutcomeAccepted)
	return n, tj, T, trust.NewView(s)
}
