package conformnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/registry"
)

// Net is the suite's side of a running conformance network: the nodes of
// A, B (the registry's voters) and R. It implements conformance.Network.
type Net struct {
	suite *conformance.Suite
	log   *slog.Logger
	nodes map[string]*running // by member id

	mu        sync.Mutex
	answers   map[string]conformance.Answerer
	delivered map[string][]conformance.Delivery
}

var _ conformance.Network = (*Net)(nil)

// running is one of the suite's nodes.
type running struct {
	member string
	cfg    node.Config
	mu     sync.Mutex
	n      *node.Node
	cancel context.CancelFunc
	done   chan error
}

// voters are the suite's registry voters, which CutOff stops.
var voters = []string{conformance.MemberA, conformance.MemberB}

// Start runs the suite's nodes of s (suite/ID/node.json for A, B and R)
// and waits until the registry has a leader. Close stops them.
func Start(ctx context.Context, s *conformance.Suite, log *slog.Logger) (*Net, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Net{suite: s, log: log, nodes: map[string]*running{}, answers: map[string]conformance.Answerer{},
		delivered: map[string][]conformance.Delivery{}}
	for _, m := range []string{conformance.MemberA, conformance.MemberB, conformance.MemberR} {
		cfg, err := node.LoadConfig(filepath.Join(s.Dir, "suite", m, "node.json"))
		if err != nil {
			return nil, fmt.Errorf("conformnet: the suite's node %s: %w", m, err)
		}
		n.nodes[m] = &running{member: m, cfg: cfg}
	}
	for _, m := range []string{conformance.MemberA, conformance.MemberB, conformance.MemberR} {
		if err := n.start(ctx, n.nodes[m]); err != nil {
			n.Close()
			return nil, err
		}
	}
	if err := n.waitLeader(ctx, time.Minute); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Net) start(ctx context.Context, r *running) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n != nil {
		return nil
	}
	nd, err := node.New(ctx, r.cfg, n.log.With("suite", r.member), node.WithMiddleware("peer", n.intercept(r.member)))
	if err != nil {
		return fmt.Errorf("conformnet: start the suite's node %s: %w", r.cfg.NodeID, err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- nd.Run(rctx) }()
	select {
	case <-nd.Ready():
	case err := <-done:
		cancel()
		return fmt.Errorf("conformnet: the suite's node %s stopped at start: %w", r.cfg.NodeID, err)
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
	r.n, r.cancel, r.done = nd, cancel, done
	return nil
}

func (r *running) stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		return nil
	}
	r.cancel()
	err := <-r.done
	r.n = nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (r *running) node() *node.Node {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Close stops the suite's nodes.
func (n *Net) Close() error {
	var errs []error
	for _, r := range n.nodes {
		errs = append(errs, r.stop())
	}
	return errors.Join(errs...)
}

// Node returns the running node of one of the suite's members (nil when
// stopped): for tests that look inside.
func (n *Net) Node(member string) *node.Node {
	if r := n.nodes[member]; r != nil {
		return r.node()
	}
	return nil
}

// waitLeader waits until every running suite node knows the leader and is
// in sync with it.
func (n *Net) waitLeader(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for _, r := range n.nodes {
		nd := r.node()
		if nd == nil {
			continue
		}
		for nd.Registry().Status().Leader.ID == "" || nd.Registry().Fresh() != nil {
			select {
			case <-ctx.Done():
				return fmt.Errorf("conformnet: the suite's node %s has no registry leader within %s", r.cfg.NodeID, d)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// Submit applies a registry command entry through the suite's voters and
// waits until every running suite node applied it. A registry without a
// leader for a moment (an election) is retried until ctx ends.
func (n *Net) Submit(ctx context.Context, entry []byte) (outcome, reason string, err error) {
	for {
		var res, err = n.submitOnce(ctx, entry)
		if err == nil {
			if err := n.waitApplied(ctx, res.Index); err != nil {
				return "", "", err
			}
			return string(res.Outcome), string(res.Reason), nil
		}
		if !errors.Is(err, registry.ErrUnavailable) {
			return "", "", fmt.Errorf("conformnet: submit: %w", err)
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("conformnet: submit: %w (%w)", err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Net) submitOnce(ctx context.Context, entry []byte) (res registryResult, err error) {
	for _, m := range voters {
		if nd := n.Node(m); nd != nil {
			r, err := nd.Registry().Submit(ctx, entry)
			return registryResult{Index: r.Index, Outcome: string(r.Outcome), Reason: string(r.Reason)}, err
		}
	}
	return res, fmt.Errorf("the suite's voters are stopped: %w", registry.ErrUnavailable)
}

type registryResult struct {
	Index           uint64
	Outcome, Reason string
}

func (n *Net) waitApplied(ctx context.Context, index uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, r := range n.nodes {
		nd := r.node()
		for nd != nil && nd.Registry().State().AppliedIndex() < index {
			select {
			case <-ctx.Done():
				return fmt.Errorf("conformnet: the suite's node %s did not apply index %d: %w", r.cfg.NodeID, index, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// Bundle returns the trust bundle of the suite's registry, from the first
// running suite node.
func (n *Net) Bundle(ctx context.Context) ([]byte, error) {
	for _, m := range []string{conformance.MemberA, conformance.MemberB, conformance.MemberR} {
		if nd := n.Node(m); nd != nil {
			b, err := nd.Registry().Bundle()
			if err != nil {
				return nil, fmt.Errorf("conformnet: bundle: %w", err)
			}
			return b.Marshal()
		}
	}
	return nil, errors.New("conformnet: no suite node is running")
}

// CutOff stops the suite's voters: the registry has no leader, and the
// candidate's replica goes stale.
func (n *Net) CutOff(ctx context.Context) error {
	var errs []error
	for _, m := range voters {
		errs = append(errs, n.nodes[m].stop())
	}
	return errors.Join(errs...)
}

// Restore starts the voters again from their state and waits for a leader.
func (n *Net) Restore(ctx context.Context) error {
	for _, m := range voters {
		if err := n.start(ctx, n.nodes[m]); err != nil {
			return err
		}
	}
	return n.waitLeader(ctx, time.Minute)
}

// Answer installs how member's peer endpoint answers the messages
// delivered to it; nil restores the real node's answer.
func (n *Net) Answer(member string, a conformance.Answerer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a == nil {
		delete(n.answers, member)
		return
	}
	n.answers[member] = a
}

// Delivered returns the messages delivered to member's peer endpoint so
// far, oldest first.
func (n *Net) Delivered(member string) []conformance.Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]conformance.Delivery(nil), n.delivered[member]...)
}

// maxDelivery bounds what the interception reads of a delivered message
// (the protocol's limit is far below).
const maxDelivery = 4 << 20

// intercept wraps member's peer API: a message delivered to it (POST
// /v1/messages) is recorded, then answered by the installed Answerer or,
// without one, by the real node.
func (n *Net) intercept(member string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
				next.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, maxDelivery))
			if err != nil {
				http.Error(w, "unreadable body", http.StatusBadRequest)
				return
			}
			n.mu.Lock()
			a := n.answers[member]
			n.mu.Unlock()
			var status int
			if a != nil {
				st, ct, b := a(body)
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(st)
				_, _ = w.Write(b)
				status = st
			} else {
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
				next.ServeHTTP(sw, r)
				status = sw.status
			}
			n.mu.Lock()
			n.delivered[member] = append(n.delivered[member], conformance.Delivery{JWS: body, Status: status})
			n.mu.Unlock()
		})
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
