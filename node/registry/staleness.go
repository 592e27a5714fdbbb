package registry

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Staleness (DESIGN.md §14). A node is in sync with the leader when it has
// applied everything the leader had committed:
//
//   - a follower or non-voter learns the leader's commit index from each
//     AppendEntries it accepts (the leader sends one at least every
//     CommitTimeout, wireTransport watches them); once its applied index
//     reaches that commit index, it was in sync at the time the request
//     arrived;
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
	applied  uint64
	pending  []pendingSync // leader commit indexes not yet applied, ascending
}

type pendingSync struct {
	commit uint64
	at     time.Time
}

const maxPendingSyncs = 256

func newSyncTracker(clock func() time.Time, syncedAt time.Time, applied uint64) *syncTracker {
	return &syncTracker{clock: clock, syncedAt: syncedAt, applied: applied}
}

// observeLeaderCommit records that an AppendEntries carrying the leader's
// commit index arrived at and was accepted.
func (t *syncTracker) observeLeaderCommit(commit uint64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.applied >= commit {
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
	for k < len(t.pending) && t.pending[k].commit <= index {
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
	st.Suffrage = r.suffrage()
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

// suffrage returns this node's suffrage in the latest Raft configuration
// ("" if it is not in it). Raft serves it without its main loop.
func (r *Registry) suffrage() string {
	f := r.raft.GetConfiguration()
	if f.Error() != nil {
		return ""
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == r.cfg.NodeID {
			if s.Suffrage == raft.Voter {
				return RoleVoter
			}
			return RoleNonvoter
		}
	}
	return ""
}
