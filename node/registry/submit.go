package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/hashicorp/raft"
)

// Submit submits signed entry data (one or more compact JWS over one
// payload, REGISTRY.md §4) from any node: the leader proposes it, a follower
// forwards it to the leader (Config.Forwarder). It returns the Result of the
// applied entry — whatever its outcome: a refused command is a Result with
// Outcome rejected (Result.Err), not an error. On a follower it returns once
// its own trust view shows the entry too (read your writes), or after an
// election timeout at most.
//
// Exactly once: a command whose id was already applied (a client retrying
// after a timeout or a leader crash) gets the ORIGINAL Result back,
// provided the retry carries the same payload; a different payload under a
// used id is refused REPLAYED_ID.
//
// Errors: ErrNoLeader (no leader known; nothing submitted), ErrNotLeader
// (no Forwarder), ErrTimeout (ctx ended or leadership was lost while in
// flight: outcome unknown, retry the same command), ErrLeaderClockBehind,
// ErrStoreFailed, ErrClosed — all but the last two in the ErrUnavailable
// family.
func (r *Registry) Submit(ctx context.Context, data []byte) (trust.Result, error) {
	for attempt := 0; ; attempt++ {
		if r.closed.Load() {
			return trust.Result{}, ErrClosed
		}
		if r.raft.State() == raft.Leader {
			res, err := r.SubmitLeader(ctx, data)
			if !errors.Is(err, ErrNotLeader) {
				return res, err
			}
		}
		addr, id := r.raft.LeaderWithID()
		switch {
		case id == "":
			return trust.Result{}, ErrNoLeader
		case string(id) == r.cfg.NodeID || r.cfg.Forwarder == nil:
			// Raft names this node leader but it is no longer (or not
			// yet) one: let the next attempt see the new state.
			if r.cfg.Forwarder == nil && string(id) != r.cfg.NodeID {
				return trust.Result{}, fmt.Errorf("%w: leader is %s and no forwarder is configured", ErrNotLeader, id)
			}
		default:
			res, err := r.cfg.Forwarder.Forward(ctx, Leader{ID: string(id), Address: string(addr)}, data)
			if err == nil {
				r.readYourWrite(ctx, res.Index)
			}
			if !errors.Is(err, ErrNotLeader) {
				return res, err
			}
		}
		// Leadership moved while we asked: retry a few times once the
		// new leader is known.
		if attempt >= 5 {
			return trust.Result{}, fmt.Errorf("%w: leadership kept moving", ErrNoLeader)
		}
		if err := sleepCtx(ctx, r.done, time.Duration(attempt+1)*20*time.Millisecond); err != nil {
			return trust.Result{}, err
		}
	}
}

// readYourWrite waits, for at most an election timeout, until this
// follower has applied a write the leader acknowledged, so that its
// caller's next View shows it. The write succeeded either way.
func (r *Registry) readYourWrite(ctx context.Context, index uint64) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ElectionTimeout)
	defer cancel()
	if err := r.waitApplied(ctx, index); err != nil {
		r.log.Debug("registry: forwarded write not yet applied here", "index", index, "error", err)
	}
}

// SubmitLeader proposes entry data on this node, which must be the leader
// (else ErrNotLeader): it is what a forwarded write calls on the leader. The
// leader stamps the entry with max(last stamp, its clock) (REGISTRY.md §9),
// waits until it is applied and returns its Result (see Submit for the
// exactly-once rule and the errors).
//
// Before proposing, the leader refuses (without proposing, so no id is
// burnt): entry data over 1 MiB (a Result rejected MALFORMED_ENTRY with
// index 0), and a command issued more than the skew after its time
// (ErrLeaderClockBehind).
func (r *Registry) SubmitLeader(ctx context.Context, data []byte) (trust.Result, error) {
	if r.closed.Load() {
		return trust.Result{}, ErrClosed
	}
	if r.raft.State() != raft.Leader {
		return trust.Result{}, ErrNotLeader
	}
	if len(data) > trust.MaxEntryBytes {
		return trust.Result{Outcome: trust.OutcomeRejected, Reason: trust.ReasonMalformedEntry, Detail: fmt.Sprintf("entry data of %d bytes (1…%d); not proposed", len(data), trust.MaxEntryBytes)}, nil
	}
	cmd := peekCommand(data)
	if err := r.ensureReady(ctx); err != nil {
		return trust.Result{}, err
	}
	if res, ok, err := r.originalResult(cmd); ok || err != nil {
		return res, err
	}

	r.proposeMu.Lock()
	s := r.State()
	stamp := max(r.lastStamp, trust.TimestampOf(r.clock()))
	if cmd != nil {
		skew := trust.Timestamp(s.Policy().ClockSkewSeconds)
		if cmd.IssuedAt > max(stamp, s.ConsensusTime())+skew {
			r.proposeMu.Unlock()
			r.log.Warn("registry: command issued after this leader's time plus skew; not proposed (leader clock behind, or signer clock ahead)",
				"id", cmd.ID, "issuedAt", cmd.IssuedAt, "leaderTime", stamp, "skewSeconds", int64(skew))
			return trust.Result{}, fmt.Errorf("%w: issuedAt %s, leader time %s, skew %ds", ErrLeaderClockBehind, cmd.IssuedAt, stamp, int64(skew))
		}
	}
	if now := trust.TimestampOf(r.clock()); stamp > now+60 {
		r.log.Warn("registry: leader stamp ahead of this node's clock (a previous leader's clock ran ahead, or this one jumped back)", "stamp", stamp, "clock", now)
	}
	r.lastStamp = stamp
	f := r.raft.Apply(encodeLogData(stamp, data), enqueueTimeout(ctx))
	r.proposeMu.Unlock()

	if err := r.waitFuture(ctx, f); err != nil {
		return trust.Result{}, err
	}
	ar, _ := f.Response().(applyResponse)
	if ar.err != nil {
		return trust.Result{}, ar.err
	}
	if ar.res.Outcome == trust.OutcomeRejected && ar.res.Reason == trust.ReasonReplayedID {
		// The first attempt may have been in flight when this one was
		// proposed: answer with its result.
		if res, ok, err := r.originalResult(cmd); ok || err != nil {
			return res, err
		}
	}
	return ar.res, nil
}

// ensureReady makes sure this leader has applied everything committed
// before its term (a barrier, once per term) and initialises its stamp
// from the highest stamp and consensus time applied (REGISTRY.md §9).
func (r *Registry) ensureReady(ctx context.Context) error {
	r.proposeMu.Lock()
	defer r.proposeMu.Unlock()
	term := r.raft.CurrentTerm()
	if r.readyTerm.Load() == term {
		return nil
	}
	if err := r.waitFuture(ctx, r.raft.Barrier(enqueueTimeout(ctx))); err != nil {
		return err
	}
	if r.raft.CurrentTerm() != term {
		return ErrNotLeader
	}
	r.lastStamp = max(r.lastStamp, trust.Timestamp(r.fsm.maxStamp.Load()), r.State().ConsensusTime())
	r.readyTerm.Store(term)
	r.log.Info("registry: leader ready", "term", term, "applied", r.State().AppliedIndex(), "lastStamp", r.lastStamp)
	return nil
}

// originalResult returns the stored Result of the command whose id cmd
// already burnt, if the entry that burnt it carries the same payload.
func (r *Registry) originalResult(cmd *peekedCommand) (trust.Result, bool, error) {
	if cmd == nil {
		return trust.Result{}, false, nil
	}
	idx, used := r.State().UsedID(cmd.ID)
	if !used {
		return trust.Result{}, false, nil
	}
	e, ok, err := r.store.entry(idx)
	if err != nil || !ok {
		return trust.Result{}, false, err
	}
	if p := peekCommand(e.Data); p == nil || !bytes.Equal(p.payload, cmd.payload) {
		return trust.Result{}, false, nil
	}
	res, ok, err := r.store.result(idx)
	if err != nil || !ok {
		return trust.Result{}, false, err
	}
	r.log.Info("registry: command already applied; returning its original result", "id", cmd.ID, "index", idx, "outcome", res.Outcome)
	return res, true, nil
}

// peekedCommand is what the shell reads of a command before Raft: unverified,
// used only to find a retried id and to avoid proposing a command the
// leader's clock would refuse. The FSM decides everything.
type peekedCommand struct {
	ID       string
	IssuedAt trust.Timestamp
	payload  []byte // the payload segment of the first JWS
}

func peekCommand(data []byte) *peekedCommand {
	first, _, _ := bytes.Cut(data, []byte{'\n'})
	parts := bytes.Split(first, []byte{'.'})
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		return nil
	}
	var p struct {
		ID       string          `json:"id"`
		IssuedAt trust.Timestamp `json:"issuedAt"`
	}
	if json.Unmarshal(raw, &p) != nil || p.ID == "" {
		return nil
	}
	return &peekedCommand{ID: p.ID, IssuedAt: p.IssuedAt, payload: parts[1]}
}

// ReadIndex returns, on the leader, an index such that every write
// acknowledged before the call is at or below it (else ErrNotLeader). A
// follower's LinearizableRead waits until it has applied it.
func (r *Registry) ReadIndex(ctx context.Context) (uint64, error) {
	if r.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	if err := r.ensureReady(ctx); err != nil {
		return 0, err
	}
	// Every acknowledged write was applied here before it was
	// acknowledged (or before this term's barrier); confirm that no newer
	// leader exists after reading the index.
	idx := r.State().AppliedIndex()
	if err := r.waitFuture(ctx, r.raft.VerifyLeader()); err != nil {
		return 0, err
	}
	return idx, nil
}

// LinearizableRead returns a trust view that reflects every registry write
// acknowledged before the call (DESIGN.md §13): on the leader after
// confirming its leadership, on a follower after applying the leader's
// read index (asked through the Forwarder). Ordinary verification does not
// need it: View is local and lock-free.
func (r *Registry) LinearizableRead(ctx context.Context) (*trust.View, error) {
	var idx uint64
	var err error
	if r.raft.State() == raft.Leader {
		idx, err = r.ReadIndex(ctx)
	} else {
		addr, id := r.raft.LeaderWithID()
		switch {
		case id == "":
			err = ErrNoLeader
		case r.cfg.Forwarder == nil:
			err = fmt.Errorf("%w: no forwarder configured", ErrNotLeader)
		default:
			idx, err = r.cfg.Forwarder.ReadIndex(ctx, Leader{ID: string(id), Address: string(addr)})
		}
	}
	if err != nil {
		return nil, err
	}
	if err := r.waitApplied(ctx, idx); err != nil {
		return nil, err
	}
	return r.View(), nil
}

// AddNonvoter adds a joined node to the Raft configuration as a non-voter
// (DESIGN.md §13); the join handshake (join*.go) calls it on the leader
// after trust.View.VerifyJoin. It is guarded by the state: the node must be
// registered, its member active and addr its registered raftAddress (else
// ErrNodeNotRegistered). A node already in the configuration is left as
// it is (promotion is by command only). Leader only (ErrNotLeader).
func (r *Registry) AddNonvoter(ctx context.Context, nodeID, addr string) error {
	if r.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	if err := r.ensureReady(ctx); err != nil {
		return err
	}
	s := r.State()
	n, ok := s.Node(nodeID)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNodeNotRegistered, nodeID)
	}
	if m, _ := s.Member(n.Member); m.Status != trust.StatusActive {
		return fmt.Errorf("%w: member %s of %s is %s", ErrNodeNotRegistered, n.Member, nodeID, m.Status)
	}
	if n.RaftAddress != addr {
		return fmt.Errorf("%w: %s is registered at %q, not %q", ErrNodeNotRegistered, nodeID, n.RaftAddress, addr)
	}
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	for _, srv := range f.Configuration().Servers {
		if string(srv.ID) == nodeID && string(srv.Address) == addr {
			return nil
		}
	}
	r.log.Info("registry: adding non-voter", "id", nodeID, "address", addr)
	return r.waitFuture(ctx, r.raft.AddNonvoter(raft.ServerID(nodeID), raft.ServerAddress(addr), 0, enqueueTimeout(ctx)))
}

// waitFuture waits for a raft future under ctx and maps raft's errors to
// the shell's.
func (r *Registry) waitFuture(ctx context.Context, f raft.Future) error {
	ch := make(chan error, 1)
	go func() { ch <- f.Error() }()
	var err error
	select {
	case err = <-ch:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-r.done:
		return ErrClosed
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	default:
		return err
	}
}

// enqueueTimeout is raft's enqueue timeout: the time left on ctx (0, no
// limit, if ctx has no deadline; waitFuture still honours ctx).
func enqueueTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 0
}

func sleepCtx(ctx context.Context, done <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-done:
		return ErrClosed
	}
}
