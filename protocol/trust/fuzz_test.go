package trust_test

import (
	"testing"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// FuzzApply: whatever an entry holds, Apply does not panic, a rejection
// leaves the content unchanged, and the journal advances.
func FuzzApply(f *testing.F) {
	n := trusttest.New(f, "TJ", "TR", "KZ")
	s := n.State()
	f.Add(n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...))
	f.Add(n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ")...))
	f.Add(n.Endorsements()[0])
	f.Add([]byte("a.b.c\nd.e.f"))
	f.Add(register(n, n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		next, res, err := trust.Apply(s, trust.Entry{Index: 1, Time: n.Now, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome == trust.OutcomeRejected && next.Hash() != s.Hash() {
			t.Fatalf("rejected %s changed the state", res.Reason)
		}
		if next.AppliedIndex() != 1 || next.ChainHead() == s.ChainHead() {
			t.Fatal("journal did not advance")
		}
	})
}

// FuzzRestoreSnapshot: a snapshot from a peer never panics the node, and
// whatever is accepted re-encodes to the same bytes.
func FuzzRestoreSnapshot(f *testing.F) {
	n := trusttest.New(f, "TJ", "TR")
	snap, err := trust.MarshalSnapshot(n.State())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add([]byte(`{"body":{},"sha256":""}`))
	withRequester := n.MustApply(n.State(), n.Sign(n.Command(trust.CmdRequesterRegister, "TJ",
		trust.RequesterRegisterArgs{Requester: n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
	snap, err = trust.MarshalSnapshot(withRequester)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := trust.RestoreSnapshot(data, n.Genesis)
		if err != nil {
			return
		}
		again, err := trust.MarshalSnapshot(s)
		if err != nil || string(again) != string(data) {
			t.Fatalf("accepted snapshot does not re-encode identically: %v", err)
		}
	})
}
