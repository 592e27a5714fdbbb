package registry

import (
	"sync"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/hashicorp/raft"
)

// Staleness (DESIGN.md §14). A node is in sync with the leader when it has
// applied everything the leader had committed:
//
//   - a follower or non-voter learns the leader's commit index from each
//     AppendEntries it accepts (the leader sends one at least every
//     CommitTimeout, wireTransport watches them), bounded by what the
//     request matched in its log; once its state holds every command up to
//     that index, it was in sync at the time the request arrived. Raft
//     entries that are not commands (the no-op of each new term,
//     barriers, configuration changes) never reach the FSM, so the
//     tracker checks the local log: every entry between the last applied
//     command and the commit index must be present and not a command;
//   - the leader is in sync while it leads and has applied the barrier of
//     its term (it steps down within LeaderLeaseTimeout of losing its
//     quorum, so it overstates freshness by at most the lease).
//
// Staleness = now − syncedAt. syncedAt is persisted with every applied
// entry, periodically, and on Close, so a node restarted while cut off
// reports the staleness of its last sync, not zero.
type syncTracker struct {
	clock func() time.Time

	mu       sync.Mutex
	syncedAt time.Time
	applied  uint64        // the state's applied index (last applied command)
	clean    uint64        // every command up to clean is in the state
	logs     raft.LogStore // nil until Raft's log is open
	pending  []pendingSync // commit indexes not yet covered, ascending
}

type pendingSync struct {
	commit uint64
	at     time.Time
}

const maxPendingSyncs = 256

func newSyncTracker(clock func() time.Time, syncedAt time.Time, applied uint64) *syncTracker {
	return &syncTracker{clock: clock, syncedAt: syncedAt, applied: applied}
}

// setLog gives the tracker Raft's log store.
func (t *syncTracker) setLog(logs raft.LogStore) {
	t.mu.Lock()
	t.logs = logs
	t.mu.Unlock()
}

// noteSnapshot records that the state holds every command up to a Raft
// snapshot's index (a snapshot taken here, or one installed; Open checks
// the state file is at least as new as the newest one). Entries up to it
// may be gone from the log.
func (t *syncTracker) noteSnapshot(index uint64) {
	t.mu.Lock()
	t.clean = max(t.clean, index)
	t.mu.Unlock()
}

// covered reports whether the state holds every command up to commit: the
// entries after the last applied command (or snapshot), up to commit, are
// all in the local log and none is a command. Called with mu held; each
// entry is read once (clean only grows, and entries up to a commit index
// never change).
func (t *syncTracker) covered(commit uint64) bool {
	if commit <= t.applied {
		return true
	}
	if t.logs == nil {
		return false
	}
	t.clean = max(t.clean, t.applied)
	for t.clean < commit {
		var l raft.Log
		if err := t.logs.GetLog(t.clean+1, &l); err != nil || l.Type == raft.LogCommand {
			return false
		}
		t.clean++
	}
	return true
}

// observeLeaderCommit records that an AppendEntries arrived at `at` and was
// accepted, and that the leader's commit index, bounded by the last index
// the request matched in this node's log, was commit.
func (t *syncTracker) observeLeaderCommit(commit uint64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.covered(commit) {
		t.mark(at)
		return
	}
	n := len(t.pending)
	switch {
	case n > 0 && t.pending[n-1].commit == commit:
		t.pending[n-1].at = at
	case n > 0 && t.pending[n-1].commit > commit:
		// A lower commit index after a higher one (a new leader that
		// has not yet committed in its term): ignore it; the next
		// requests will tell.
	case n >= maxPendingSyncs:
		// Far behind: keep the oldest; syncedAt only moves later.
		t.pending[n-1] = pendingSync{commit, at}
	default:
		t.pending = append(t.pending, pendingSync{commit, at})
	}
}

// observeApplied records the applied index after each apply.
func (t *syncTracker) observeApplied(index uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.applied = index
	k := 0
	for k < len(t.pending) && t.covered(t.pending[k].commit) {
		t.mark(t.pending[k].at)
		k++
	}
	t.pending = t.pending[k:]
}

// markNow records that the node is in sync now (a leader).
func (t *syncTracker) markNow() {
	now := t.clock()
	t.mu.Lock()
	t.mark(now)
	t.mu.Unlock()
}

func (t *syncTracker) mark(at time.Time) {
	if at.After(t.syncedAt) {
		t.syncedAt = at
	}
}

// last returns the last time the node was in sync (zero: never).
func (t *syncTracker) last() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.syncedAt
}

// stalenessBound is the fail-closed bound: the policy's, tightened by
// Config.MaxStaleness.
func (r *Registry) stalenessBound() time.Duration {
	b := time.Duration(r.State().Policy().StalenessBoundSeconds) * time.Second
	if m := r.cfg.MaxStaleness; m > 0 && m < b {
		b = m
	}
	return b
}

// leaderInSync reports whether this node leads and has applied the
// barrier of its current term.
func (r *Registry) leaderInSync() bool {
	if r.raft.State() != raft.Leader {
		return false
	}
	t := r.readyTerm.Load()
	return t != 0 && t == r.raft.CurrentTerm()
}

// staleness returns syncedAt and now − syncedAt (0 if never synced: see
// the zero syncedAt).
func (r *Registry) staleness() (time.Time, time.Duration, time.Duration) {
	if r.leaderInSync() {
		r.sync.markNow()
	}
	at := r.sync.last()
	bound := r.stalenessBound()
	if at.IsZero() {
		return at, 0, bound
	}
	d := r.clock().Sub(at)
	if d < 0 {
		d = 0
	}
	return at, d, bound
}

// Fresh returns nil while this replica is within the staleness bound, and a
// *StaleError (ErrStale) past it, or ErrStoreFailed if the state file
// failed. Callers must check it before the decisions where a missed
// revocation or suspension would hurt a person (DESIGN.md §14):
//
//   - answering status queries (attestations disclose personal data);
//   - releasing inbound events to the national system (they are still
//     verified, stored and receipted as "held", released once fresh);
//   - delivering outbound messages to a peer (they wait in the outbox);
//   - accepting joins (AddNonvoter checks it).
//
// Verifying messages and old records, health, metrics and reading the
// registry keep working, labelled stale. Fresh does not block on Raft.
func (r *Registry) Fresh() error {
	if err := r.fsm.failure(); err != nil {
		return err
	}
	at, d, bound := r.staleness()
	if at.IsZero() || d > bound {
		return &StaleError{Staleness: d, Bound: bound, SyncedAt: at}
	}
	return nil
}

// Status reports the node's role, indexes and staleness. It does not block
// on Raft's main loop.
func (r *Registry) Status() Status {
	v := r.View()
	st := Status{NodeID: r.cfg.NodeID, AppliedIndex: v.AppliedIndex(), ConsensusTime: v.ConsensusTime(),
		StateHash: v.StateHash(), ChainHead: v.ChainHead(), SnapshotsRestored: r.fsm.restored.Load(), Failed: r.fsm.failure()}
	if p := r.fsm.snapErr.Load(); p != nil {
		st.SnapshotError = *p
	}
	switch r.raft.State() {
	case raft.Leader:
		st.Role = RaftLeader
	case raft.Candidate:
		st.Role = RaftCandidate
	case raft.Follower:
		st.Role = RaftFollower
	default:
		st.Role = RaftShutdown
	}
	addr, id := r.raft.LeaderWithID()
	st.Leader = Leader{ID: string(id), Address: string(addr)}
	st.Term = r.raft.CurrentTerm()
	st.CommitIndex = r.raft.CommitIndex()
	st.LastIndex = r.raft.LastIndex()
	st.Servers, st.Suffrage = r.servers()
	if st.Role == RaftLeader {
		st.LastLeaderContact = r.clock()
	} else if lc := r.raft.LastContact(); !lc.IsZero() {
		// raft measures contact on the real clock; express it on ours.
		st.LastLeaderContact = r.clock().Add(-time.Since(lc))
	}
	st.SyncedAt, st.Staleness, st.StalenessBound = r.staleness()
	st.Stale = st.Failed != nil || st.SyncedAt.IsZero() || st.Staleness > st.StalenessBound
	return st
}

// servers returns the latest Raft configuration and this node's suffrage
// in it ("" if it is not in it). Raft serves it without its main loop.
func (r *Registry) servers() ([]Server, string) {
	f := r.raft.GetConfiguration()
	if f.Error() != nil {
		return nil, ""
	}
	var out []Server
	mine := ""
	for _, s := range f.Configuration().Servers {
		sv := Server{ID: string(s.ID), Address: string(s.Address), Suffrage: trust.RoleNonvoter}
		if s.Suffrage == raft.Voter {
			sv.Suffrage = trust.RoleVoter
		}
		if sv.ID == r.cfg.NodeID {
			mine = sv.Suffrage
		}
		out = append(out, sv)
	}
	return out, mine
}
