package registry

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/hashicorp/raft"
)

// Raft log data (REGISTRY.md §11): version byte 0x01, the leader's stamp as
// 8-byte big-endian Unix seconds, then the entry data.
const (
	logVersion   = 0x01
	logHeaderLen = 9
)

func encodeLogData(stamp trust.Timestamp, data []byte) []byte {
	b := make([]byte, 0, logHeaderLen+len(data))
	b = append(b, logVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(stamp)))
	return append(b, data...)
}

// decodeLogData turns raft log data into the entry Apply sees. Data that is
// not in the format (or a stamp outside years 1-9999) becomes an entry with
// no data and the state's time, which Apply refuses MALFORMED_ENTRY without
// moving time: it is recorded, and a trust bundle replays it the same way.
func decodeLogData(index uint64, data []byte, s *trust.State) trust.Entry {
	if len(data) >= logHeaderLen && data[0] == logVersion {
		ts := trust.Timestamp(int64(binary.BigEndian.Uint64(data[1:9])))
		if ts >= trust.MinTimestamp && ts <= trust.MaxTimestamp {
			return trust.Entry{Index: index, Time: ts, Data: data[logHeaderLen:]}
		}
	}
	return trust.Entry{Index: index, Time: s.ConsensusTime()}
}

// applyResponse is what fsm.Apply returns to raft (ApplyFuture.Response).
type applyResponse struct {
	res trust.Result
	err error
}

// fsm is the raft.FSM. Apply calls the pure Apply, persists the new state in
// one bbolt transaction, and only then publishes it; it reads no clock.
type fsm struct {
	g     *trust.Genesis
	store *stateStore
	log   *slog.Logger

	// mu serialises Apply and Restore (raft already does; the lock makes
	// the invariant local) and guards failed.
	mu     sync.Mutex
	failed error

	state    atomic.Pointer[trust.State]
	view     atomic.Pointer[trust.View]
	maxStamp atomic.Int64 // highest leader stamp applied (for the next leader's stamps)

	restored atomic.Uint64 // snapshots installed
	snapErr  atomic.Pointer[error]

	// onApply is called after each state is published; it must not block.
	onApply func(*trust.State)
	// syncedAt returns the staleness tracker's last sync, persisted with
	// each entry (zero: keep the stored value).
	syncedAt func() time.Time
}

func newFSM(g *trust.Genesis, store *stateStore, ls loadedState, log *slog.Logger) *fsm {
	f := &fsm{g: g, store: store, log: log, syncedAt: func() time.Time { return time.Time{} }}
	f.publish(ls.state)
	f.maxStamp.Store(int64(ls.maxStamp))
	return f
}

// publish makes s the current state and its trust view the verifier's.
func (f *fsm) publish(s *trust.State) {
	f.view.Store(trust.NewView(s))
	f.state.Store(s)
	if f.onApply != nil {
		f.onApply(s)
	}
}

func (f *fsm) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed != nil {
		return applyResponse{err: f.failed}
	}
	s := f.state.Load()
	if l.Index <= s.AppliedIndex() {
		// Raft replays its log after a restart from the last raft
		// snapshot; the state file already holds these entries.
		res, ok, err := f.store.result(l.Index)
		if err != nil || !ok {
			return applyResponse{err: fmt.Errorf("registry: entry %d already applied", l.Index)}
		}
		return applyResponse{res: res}
	}
	e := decodeLogData(l.Index, l.Data, s)
	next, res, err := trust.Apply(s, e)
	if err == nil {
		var snap []byte
		if snap, err = trust.MarshalSnapshot(next); err == nil {
			err = f.store.saveApply(snap, e, res, f.syncedAt())
		}
	}
	if err != nil {
		// Never apply a later entry to a state that missed this one:
		// stop here; the node goes stale and a restart re-applies from
		// the state file.
		f.failed = fmt.Errorf("%w: entry %d: %w", ErrStoreFailed, l.Index, err)
		f.log.Error("registry: cannot persist applied entry; this node stops applying until restarted", "index", l.Index, "error", err)
		return applyResponse{err: f.failed}
	}
	if int64(e.Time) > f.maxStamp.Load() {
		f.maxStamp.Store(int64(e.Time))
	}
	f.publish(next)
	return applyResponse{res: res}
}

// Snapshot implements raft.FSM: the current (immutable) state; Persist
// reads the history up to its index.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{f: f, s: f.state.Load()}, nil
}

// Restore implements raft.FSM. The snapshot is verified completely before
// anything is installed; a corrupt one is refused with ErrCorruptSnapshot and
// the node keeps its state (raft retries the transfer).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxRaftSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("registry: read snapshot: %w", err)
	}
	v, err := verifyRaftSnapshot(data, f.g)
	if err != nil {
		f.refused(err)
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed != nil {
		return f.failed
	}
	cur := f.state.Load()
	if v.state.AppliedIndex() <= cur.AppliedIndex() {
		// Same log, and this node already holds at least as much.
		f.log.Info("registry: snapshot not newer than the state file; kept the state file", "snapshot", v.state.AppliedIndex(), "applied", cur.AppliedIndex())
		f.restored.Add(1)
		return nil
	}
	if err := f.store.saveRestore(v.stateBytes, v.entries, v.results); err != nil {
		f.failed = fmt.Errorf("%w: install snapshot: %w", ErrStoreFailed, err)
		return f.failed
	}
	for _, e := range v.entries {
		if int64(e.Time) > f.maxStamp.Load() {
			f.maxStamp.Store(int64(e.Time))
		}
	}
	f.publish(v.state)
	f.restored.Add(1)
	f.log.Info("registry: installed snapshot", "applied", v.state.AppliedIndex(), "stateHash", v.state.Hash())
	return nil
}

func (f *fsm) refused(err error) {
	f.snapErr.Store(&err)
	f.log.Error("registry: refused a snapshot; keeping the current state", "error", err)
}

// fsmSnapshot is a point-in-time state.
type fsmSnapshot struct {
	f *fsm
	s *trust.State
}

// Persist implements raft.FSMSnapshot: the Raft snapshot format (REGISTRY.md
// §11) is the canonical state snapshot, one LF, and the trust bundle of the
// history up to the snapshot's applied index.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	data, err := marshalRaftSnapshot(s.f.g, s.s, s.f.store)
	if err == nil {
		_, err = sink.Write(data)
	}
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}

// maxRaftSnapshotBytes bounds a Raft snapshot: a state and a bundle.
const maxRaftSnapshotBytes = trust.MaxSnapshotBytes + 1 + trust.MaxBundleBytes

func marshalRaftSnapshot(g *trust.Genesis, s *trust.State, store *stateStore) ([]byte, error) {
	snap, err := trust.MarshalSnapshot(s)
	if err != nil {
		return nil, err
	}
	entries, err := store.entries(s.AppliedIndex())
	if err != nil {
		return nil, err
	}
	if n := len(entries); (n == 0) != (s.AppliedIndex() == 0) || (n > 0 && entries[n-1].Index != s.AppliedIndex()) {
		return nil, fmt.Errorf("registry: history incomplete up to %d", s.AppliedIndex())
	}
	bundle, err := trust.NewBundle(g, entries, s.ChainHead()).Marshal()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(snap)+1+len(bundle))
	out = append(out, snap...)
	out = append(out, '\n')
	return append(out, bundle...), nil
}

// verifiedSnapshot is a Raft snapshot that passed every check.
type verifiedSnapshot struct {
	state      *trust.State
	stateBytes []byte
	entries    []trust.Entry
	results    []trust.Result
}

// verifyRaftSnapshot checks a Raft snapshot completely: the state part with
// RestoreSnapshot (canonical form, checksum, pin, invariants, state hash),
// and the history by replaying it from the genesis with the same Apply,
// which must reach exactly that state (index, chain head, hash). Any
// failure is ErrCorruptSnapshot.
func verifyRaftSnapshot(data []byte, g *trust.Genesis) (*verifiedSnapshot, error) {
	if len(data) > maxRaftSnapshotBytes {
		return nil, trust.Corruptf("raft snapshot exceeds %d bytes", maxRaftSnapshotBytes)
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return nil, trust.Corruptf("raft snapshot without history")
	}
	st, err := trust.RestoreSnapshot(data[:i], g)
	if err != nil {
		return nil, err
	}
	b, err := trust.ParseBundle(data[i+1:])
	if err != nil {
		return nil, trust.Corruptf("history: %w", err)
	}
	if b.ChainHead != st.ChainHead() {
		return nil, trust.Corruptf("history states chain head %s, state has %s", b.ChainHead, st.ChainHead())
	}
	replayed, results, err := trust.Replay(b, g.Hash())
	if err != nil {
		return nil, trust.Corruptf("history: %w", err)
	}
	if replayed.AppliedIndex() != st.AppliedIndex() || replayed.Hash() != st.Hash() || replayed.ChainHead() != st.ChainHead() {
		return nil, trust.Corruptf("history does not reach the snapshot's state")
	}
	entries := make([]trust.Entry, len(b.Entries))
	for k, be := range b.Entries {
		entries[k] = trust.Entry{Index: be.Index, Time: be.Time, Data: []byte(be.Data)}
	}
	return &verifiedSnapshot{state: st, stateBytes: bytes.Clone(data[:i]), entries: entries, results: results}, nil
}
