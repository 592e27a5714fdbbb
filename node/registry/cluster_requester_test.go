package registry_test

import (
	"testing"

	"github.com/ecrn/crvsx/protocol/trust"
)

// A requester (protocol/REGISTRY.md §2.1, §7.1) registered and suspended
// through the cluster is in every replica's trust view, and survives a
// restart from the node's state file (the snapshot encoding, §11).
func TestRequesterReplicated(t *testing.T) {
	c := newCluster(t, nil)
	l := c.leader()
	k := c.net.RequesterKey("INT-UNHCR")
	reg := c.net.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: c.net.RequesterSpec("INT-UNHCR", k)})
	l.mustSubmit(c.net.Sign(reg, c.net.Gov("TJ", "TR", "KZ", "UZ")...), trust.OutcomeAccepted)
	sus := c.net.Command(trust.CmdRequesterSuspend, "TR", trust.RequesterSuspendArgs{Requester: "INT-UNHCR", Reason: "audit"})
	l.mustSubmit(c.net.Sign(sus, c.net.Gov("TR", "KZ", "UZ", "TJ")...), trust.OutcomeAccepted)
	c.converged(c.nodes...)
	check := func(when string) {
		t.Helper()
		for _, n := range c.nodes {
			v := n.must().View()
			r, ok := v.Requester("INT-UNHCR")
			if !ok || r.Status != trust.StatusSuspended {
				t.Fatalf("%s: %s's view: %+v %v", when, n.id, r, ok)
			}
			if byPin, ok := v.RequesterByPin(r.TLSSPKISHA256); !ok || byPin.ID != r.ID {
				t.Fatalf("%s: %s: RequesterByPin", when, n.id)
			}
			if _, ok := v.RequesterKeys().LookupKey(k.Kid()); !ok {
				t.Fatalf("%s: %s: no requester key", when, n.id)
			}
			if _, ok := v.LookupKey(k.Kid()); ok {
				t.Fatalf("%s: %s: a requester key among member keys", when, n.id)
			}
		}
	}
	check("replicated")
	f := c.follower(l)
	f.kill()
	f.start()
	c.converged(c.nodes...)
	check("after a restart")
}
