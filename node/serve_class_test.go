package node

import (
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// TestClassOf is the peer listener's budget classes (pintls.Budget): a
// registered node of an active member is a peer, a registered active
// requester is a requester, a suspended requester and an unknown key are
// strangers.
func TestClassOf(t *testing.T) {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	s := n.MustApply(n.State(), n.Sign(n.Command(trust.CmdRequesterRegister, "TJ",
		trust.RequesterRegisterArgs{Requester: n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
	active := trust.NewView(s)
	n.Advance(time.Minute)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdRequesterSuspend, "TJ",
		trust.RequesterSuspendArgs{Requester: "INT-UNHCR", Reason: "audit"}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
	suspended := trust.NewView(s)
	nodePin, reqPin := trusttest.NodeSpec("TR", 1, "").TLSSPKISHA256, trusttest.RequesterPin("INT-UNHCR")
	for _, c := range []struct {
		name string
		view *trust.View
		pin  string
		want pintls.Class
	}{
		{"registered-node/peer", active, nodePin, pintls.ClassPeer},
		{"active-requester/requester", active, reqPin, pintls.ClassRequester},
		{"suspended-requester/other", suspended, reqPin, pintls.ClassOther},
		{"unknown-key/other", active, trusttest.RequesterPin("INT-IOM"), pintls.ClassOther},
		{"no-view/other", nil, reqPin, pintls.ClassOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := classOf(c.view, c.pin); got != c.want {
				t.Fatalf("class %d, want %d", got, c.want)
			}
		})
	}
}
