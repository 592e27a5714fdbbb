package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
)

// mustJoin: a node that is not a founding node of the genesis joins the
// registry cluster through registry.join (node/registry/DESIGN.md §13).
func (n *Node) mustJoin() bool {
	for _, nd := range n.genesis.Document().Nodes {
		if nd.ID == n.cfg.NodeID {
			return false
		}
	}
	return len(n.cfg.Registry.Join) > 0
}

// joinLoop asks the configured nodes, in turn, to add this node as a
// non-voter, until this node is in the cluster's configuration or ctx ends.
func (n *Node) joinLoop(ctx context.Context) {
	jc := &registry.JoinClient{NodeID: n.cfg.NodeID, Certificate: n.cert, View: n.view, Timeout: 10 * time.Second}
	wait := time.Second
	for attempt := 0; ; attempt++ {
		if n.reg.Status().Suffrage != "" {
			n.log.Info("registry: this node is in the cluster", slog.String("suffrage", n.reg.Status().Suffrage))
			return
		}
		url := n.cfg.Registry.Join[attempt%len(n.cfg.Registry.Join)]
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		j, err := jc.Join(jctx, url)
		cancel()
		if err == nil {
			n.log.Info("registry: joined", slog.String("via", url), slog.String("suffrage", j.Suffrage))
			return
		}
		n.log.Warn("registry: join failed; retrying", slog.String("via", url), slog.Duration("in", wait), slog.Any("err", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// raftAdvertise is the Raft address this node gives as its own
// (Config.Listen.RaftAdvertise): the configured one; else, when Raft binds
// every interface, the address the genesis registers for a founding node;
// else "" (the listener's own address, which then names one interface).
func raftAdvertise(cfg Config, genesis *trust.Genesis) (string, error) {
	if cfg.Listen.RaftAdvertise != "" {
		return cfg.Listen.RaftAdvertise, nil
	}
	host, _, err := net.SplitHostPort(cfg.Listen.Raft)
	if err != nil {
		return "", fmt.Errorf("listen.raft: %w", err)
	}
	if host != "" && !isUnspecified(host) {
		return "", nil
	}
	for _, nd := range genesis.Document().Nodes {
		if nd.ID == cfg.NodeID {
			return nd.RaftAddress, nil
		}
	}
	return "", fmt.Errorf("listen.raft %s binds every interface: set listen.raftAdvertise to the Raft address registered for %s (node.register)", cfg.Listen.Raft, cfg.NodeID)
}
