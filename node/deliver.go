package node

import (
	"context"
	"fmt"

	"github.com/ecrn/crvsx/node/peer"
	"github.com/ecrn/crvsx/protocol"
)

// Where outbound messages go: the registry's trust view answers, from one
// snapshot per question (trust.View.NodeOfMember, ActiveNode).

// nodeOf finds the node of an active member for the outbox (exchange
// DESIGN.md §3).
func (n *Node) nodeOf(member string) (protocol.Endpoint, bool) {
	nd, ok := n.reg.View().NodeOfMember(member)
	if !ok {
		return protocol.Endpoint{}, false
	}
	return protocol.Endpoint{NodeID: nd.ID, Country: member}, true
}

// pinFor is the peer client's source of server pins: a registered node of
// an active member.
func (n *Node) pinFor(nodeID string) (string, bool) {
	nd, ok := n.reg.View().ActiveNode(nodeID)
	return nd.TLSSPKISHA256, ok
}

// errStale is the retryable error of a delivery held back while the
// registry replica is past its staleness bound (node/registry/DESIGN.md §14).
type errStale struct{ err error }

func (e errStale) Error() string { return "registry replica is stale: " + e.err.Error() }
func (e errStale) Unwrap() error { return e.err }

// send is the deliverer's Sender: the peer's API URL and pin from the
// registry, then node/peer. Nothing is sent to a node whose member is not
// active: its queue waits.
func (n *Node) send(ctx context.Context, peerID string, token []byte) ([]byte, error) {
	if err := n.reg.Fresh(); err != nil {
		return nil, errStale{err}
	}
	nd, ok := n.reg.View().ActiveNode(peerID)
	if !ok {
		return nil, fmt.Errorf("node %s is not a registered node of an active member: held", peerID)
	}
	return n.peers.Send(ctx, peer.NodeAddr{ID: nd.ID, URL: nd.APIURL}, token)
}
