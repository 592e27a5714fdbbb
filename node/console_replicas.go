package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// The overview's registry health of the other replicas: each server of the
// Raft configuration other than this node is asked for its registry status
// (GET /v1/registry/status on its registered apiUrl, pinned mutual TLS with
// this node's key, as node/registry's forwarder does), all at once, each
// within replicaAskTimeout and all within replicaAskBound: the page is
// never held longer than that by a replica that does not answer.
const (
	replicaAskTimeout = 2 * time.Second
	replicaAskBound   = 3 * time.Second
	// maxReplicaStatus bounds a replica's answer (a status document is
	// under 1 KiB).
	maxReplicaStatus = 64 << 10
)

// askReplicas returns a report for every server of st.Servers other than
// this node, keyed by server id. Every goroutine it starts has returned or
// is cancelled (its ctx done) when it returns; their channel is buffered,
// so none is left blocked.
func (n *Node) askReplicas(ctx context.Context, s *trust.State, st registry.Status) map[string]view.ReplicaReport {
	ctx, cancel := context.WithTimeout(ctx, replicaAskBound)
	defer cancel()
	type answer struct {
		id  string
		rep view.ReplicaReport
	}
	out := map[string]view.ReplicaReport{}
	asking := map[string]bool{}
	ch := make(chan answer, len(st.Servers))
	for _, srv := range st.Servers {
		if srv.ID == st.NodeID || asking[srv.ID] {
			continue
		}
		node, ok := trust.Node{}, false
		if s != nil {
			node, ok = s.Node(srv.ID)
		}
		if !ok || !protocol.IsSHA256Hex(node.TLSSPKISHA256) {
			out[srv.ID] = view.ReplicaReport{Failure: view.ReplicaNotRegistered}
			continue
		}
		asking[srv.ID] = true
		go func() { ch <- answer{node.ID, n.askReplica(ctx, node)} }()
	}
	for range asking {
		select {
		case a := <-ch:
			out[a.id] = a.rep
		case <-ctx.Done():
			for id := range asking {
				if _, ok := out[id]; !ok {
					out[id] = view.ReplicaReport{Failure: view.ReplicaTimeout}
				}
			}
			return out
		}
	}
	return out
}

// askReplica asks one registered node for its registry status.
func (n *Node) askReplica(ctx context.Context, node trust.Node) view.ReplicaReport {
	ctx, cancel := context.WithTimeout(ctx, replicaAskTimeout)
	defer cancel()
	fail := func(code string, err error) view.ReplicaReport {
		n.log.Debug("console: replica status not known", "node", node.ID, "reason", code, "err", err)
		return view.ReplicaReport{Failure: code}
	}
	u, err := url.Parse(node.APIURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fail(view.ReplicaNotRegistered, fmt.Errorf("apiUrl %q is not https://host[:port]", node.APIURL))
	}
	tr := &http.Transport{
		TLSClientConfig:   pintls.ClientConfig(&n.cert, pintls.ExpectPin(node.TLSSPKISHA256)),
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath(registry.PathStatus).String(), nil)
	if err != nil {
		return fail(view.ReplicaNotRegistered, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	switch {
	case errors.Is(err, pintls.ErrPinMismatch):
		return fail(view.ReplicaPinMismatch, err)
	case err != nil && ctx.Err() != nil:
		return fail(view.ReplicaTimeout, err)
	case err != nil:
		return fail(view.ReplicaConnectFailed, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(view.ReplicaBadAnswer, fmt.Errorf("HTTP status %d", resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplicaStatus+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return fail(view.ReplicaTimeout, err)
	case err != nil:
		return fail(view.ReplicaConnectFailed, err)
	case len(body) > maxReplicaStatus:
		return fail(view.ReplicaBadAnswer, fmt.Errorf("status larger than %d bytes", maxReplicaStatus))
	}
	var st registry.APIStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return fail(view.ReplicaBadAnswer, err)
	}
	if st.NodeID != node.ID {
		return fail(view.ReplicaBadAnswer, fmt.Errorf("the status is of node %q", st.NodeID))
	}
	if st.Failed != "" {
		return fail(view.ReplicaFailed, errors.New(st.Failed))
	}
	return view.ReplicaReport{AppliedIndex: st.AppliedIndex, Staleness: time.Duration(st.StalenessSeconds * float64(time.Second)), Stale: st.Stale}
}
