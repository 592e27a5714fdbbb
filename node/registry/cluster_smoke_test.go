package registry_test

import (
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/registry"
)

func TestClusterSmoke(t *testing.T) {
	c := newCluster(t, nil)
	l := c.leader()
	f := c.follower(l)
	data, _ := c.registerNode("TJ", 2)
	res := f.mustSubmit(data, registry.OutcomeAccepted)
	st := c.converged(c.nodes...)
	if st.AppliedIndex != res.Index {
		t.Fatalf("applied %d, result index %d", st.AppliedIndex, res.Index)
	}
	_ = time.Second
}
