package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// Registry is one node's registry: the Raft shell around the pure core
// (DESIGN.md §11–§15). It is safe for concurrent use. View and State never
// block on Raft.
type Registry struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time
	g     *trust.Genesis

	store *stateStore
	fsm   *fsm
	logs  *raftboltdb.BoltStore
	snaps raft.SnapshotStore
	wire  *wireTransport
	raft  *raft.Raft
	sync  *syncTracker

	// proposeMu serialises the leader's stamps (REGISTRY.md §9).
	proposeMu sync.Mutex
	lastStamp trust.Timestamp
	readyTerm atomic.Uint64 // term whose barrier completed on this leader

	appliedMu sync.Mutex
	appliedCh chan struct{} // closed and replaced after each apply

	reconcileCh chan struct{}
	done        chan struct{}
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
	closed      atomic.Bool
}

// Open opens (or creates) the node's state in cfg.Dir and starts Raft:
//
//  1. registry.db is loaded (its snapshot verified, its pin checked) and the
//     trust view published at once — before Raft runs — so a node that
//     restarts cut off from every peer verifies with its last state and
//     reports its staleness (DESIGN.md §15, restart while isolated);
//  2. if a Raft snapshot on disk is newer than the state file (the file was
//     removed to re-sync), it is verified and installed first;
//  3. a node of a new network bootstraps the founding configuration from
//     the genesis (its voters and non-voters), identically on every node;
//  4. Raft starts without restoring its snapshot (the state file is at
//     least as new) and re-delivers only entries the FSM skips or lacks.
//
// ctx bounds only the opening, not the Registry's life; Close stops it.
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{cfg: cfg, log: log, clock: cfg.Clock, g: cfg.Genesis, appliedCh: make(chan struct{}),
		reconcileCh: make(chan struct{}, 1), done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			r.closeStores()
		}
	}()

	store, ls, err := openStateStore(filepath.Join(cfg.Dir, StateFileName), cfg.Genesis)
	if err != nil {
		return nil, err
	}
	r.store = store
	hl := newHCLog(log, "raft")
	fss, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, hl.Named("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("registry: snapshot store: %w", err)
	}
	r.sync = newSyncTracker(cfg.Clock, ls.syncedAt, ls.state.AppliedIndex())
	r.fsm = newFSM(cfg.Genesis, store, ls, log)
	r.snaps = &verifyingSnapshotStore{SnapshotStore: fss, g: cfg.Genesis, refused: r.fsm.refused, stored: r.sync.noteSnapshot}
	if err := r.catchUpFromSnapshot(ctx, fss, ls.state); err != nil {
		return nil, err
	}
	if metas, err := fss.List(); err == nil && len(metas) > 0 {
		r.sync.noteSnapshot(metas[0].Index)
	}
	// The trust view is published (newFSM, catchUpFromSnapshot) before
	// Raft runs.
	if n, ok := r.fsm.state.Load().Node(cfg.NodeID); ok && n.RaftAddress != string(cfg.Transport.LocalAddr()) {
		return nil, fmt.Errorf("%w: transport address %q, node %s is registered at %q", ErrInvalidConfig, cfg.Transport.LocalAddr(), cfg.NodeID, n.RaftAddress)
	}
	r.sync.observeApplied(r.fsm.state.Load().AppliedIndex())
	r.fsm.syncedAt = r.sync.last
	r.fsm.onApply = r.applied

	r.logs, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, RaftFileName), BoltOptions: &bolt.Options{Timeout: 2 * time.Second}})
	if err != nil {
		return nil, fmt.Errorf("registry: raft log: %w", err)
	}
	r.sync.setLog(r.logs)
	rc := r.raftConfig(hl)
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	has, err := raft.HasExistingState(r.logs, r.logs, r.snaps)
	if err != nil {
		return nil, fmt.Errorf("registry: raft state: %w", err)
	}
	if !has {
		if boot, ok := r.founding(); ok {
			if err := raft.BootstrapCluster(rc, r.logs, r.logs, r.snaps, cfg.Transport, boot); err != nil {
				return nil, fmt.Errorf("registry: bootstrap: %w", err)
			}
			log.Info("registry: bootstrapped the founding configuration from the genesis", "servers", len(boot.Servers))
		}
	}
	r.wire = newWireTransport(cfg.Transport, cfg.Clock, r.sync.observeLeaderCommit)
	r.raft, err = raft.NewRaft(rc, r.fsm, r.logs, r.logs, r.snaps, r.wire.raftTransport())
	if err != nil {
		r.wire.stop()
		return nil, fmt.Errorf("registry: start raft: %w", err)
	}
	ok = true
	r.wg.Add(2)
	go r.watchLeadership()
	go r.housekeeping()
	return r, nil
}

func (r *Registry) raftConfig(hl *hcLog) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(r.cfg.NodeID)
	rc.Logger = hl
	rc.HeartbeatTimeout = r.cfg.HeartbeatTimeout
	rc.ElectionTimeout = r.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = r.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = r.cfg.CommitTimeout
	rc.SnapshotThreshold = r.cfg.SnapshotThreshold
	rc.SnapshotInterval = r.cfg.SnapshotInterval
	rc.TrailingLogs = r.cfg.TrailingLogs
	// The state file is always at least as new as the newest Raft
	// snapshot (Open installs a newer one first), so Raft must not
	// replace it with an older snapshot on start.
	rc.NoSnapshotRestoreOnStart = true
	rc.ShutdownOnRemove = false
	rc.NoLegacyTelemetry = true
	return rc
}

// founding returns the founding Raft configuration if this node is in the
// genesis: every genesis node with its role, the same on every node.
func (r *Registry) founding() (raft.Configuration, bool) {
	var c raft.Configuration
	mine := false
	for _, n := range r.g.Document().Nodes {
		s := raft.Server{ID: raft.ServerID(n.ID), Address: raft.ServerAddress(n.RaftAddress), Suffrage: raft.Nonvoter}
		if n.Role == trust.RoleVoter {
			s.Suffrage = raft.Voter
		}
		c.Servers = append(c.Servers, s)
		mine = mine || n.ID == r.cfg.NodeID
	}
	return c, mine
}

// catchUpFromSnapshot installs the newest Raft snapshot on disk if it is
// newer than the state file (the file was removed so that the node
// re-syncs). A snapshot that does not verify stops the node: running on
// a state that missed entries would be worse.
func (r *Registry) catchUpFromSnapshot(ctx context.Context, fss raft.SnapshotStore, cur *trust.State) error {
	metas, err := fss.List()
	if err != nil || len(metas) == 0 {
		return err
	}
	m := metas[0]
	if m.Index <= cur.AppliedIndex() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, rc, err := fss.Open(m.ID)
	if err != nil {
		return fmt.Errorf("%w: raft snapshot %s: %w", trust.ErrCorruptSnapshot, m.ID, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxRaftSnapshotBytes+1))
	rc.Close()
	if err != nil {
		return fmt.Errorf("registry: read raft snapshot %s: %w", m.ID, err)
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return trust.Corruptf("raft snapshot %s without history", m.ID)
	}
	head, err := trust.RestoreSnapshot(data[:i], r.g)
	if err != nil {
		return fmt.Errorf("registry: raft snapshot %s: %w", m.ID, err)
	}
	if head.AppliedIndex() <= cur.AppliedIndex() {
		return nil // entries after the state file's index were not commands
	}
	r.log.Warn("registry: state file is behind the newest raft snapshot; installing the snapshot", "applied", cur.AppliedIndex(), "snapshot", head.AppliedIndex())
	return r.fsm.Restore(io.NopCloser(bytes.NewReader(data)))
}

// Close stops Raft and the node's goroutines and closes its files. It does
// not leave the cluster. It is safe to call more than once.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		close(r.done)
		var errs []error
		if err := r.raft.Shutdown().Error(); err != nil {
			errs = append(errs, err)
		}
		r.wg.Wait()
		r.wire.stop()
		if t := r.sync.last(); !t.IsZero() && r.fsm.failure() == nil {
			if err := r.store.saveSyncedAt(t); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, r.closeStores())
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

func (r *Registry) closeStores() error {
	var errs []error
	if r.logs != nil {
		errs = append(errs, r.logs.Close())
	}
	if r.store != nil {
		errs = append(errs, r.store.close())
	}
	return errors.Join(errs...)
}

// View returns the current trust view: a lock-free load, never blocked by
// Raft. It is never nil after Open.
func (r *Registry) View() *trust.View { return r.fsm.view.Load() }

// LookupKey looks kid up in the trust view of the moment (a jws.KeyLookup
// for the message path): each call loads the current view, so a
// revocation applies to the next message.
func (r *Registry) LookupKey(kid string) (jws.Key, bool) { return r.View().LookupKey(kid) }

// ValidAt is trust.View.ValidAt on the trust view of the moment.
func (r *Registry) ValidAt(kid string, t time.Time) error { return r.View().ValidAt(kid, t) }

// State returns the current registry state (immutable).
func (r *Registry) State() *trust.State { return r.fsm.state.Load() }

// Bundle exports the trust bundle of the current state (REGISTRY.md §12):
// the genesis and every applied entry, with the chain head reached. Every
// node can export it: a node that caught up by snapshot received the
// history with it.
func (r *Registry) Bundle() (*trust.Bundle, error) {
	s := r.State()
	entries, err := r.store.entries(s.AppliedIndex())
	if err != nil {
		return nil, err
	}
	if n := len(entries); (n == 0) != (s.AppliedIndex() == 0) || (n > 0 && entries[n-1].Index != s.AppliedIndex()) {
		return nil, fmt.Errorf("registry: history incomplete up to %d", s.AppliedIndex())
	}
	return trust.NewBundle(r.g, entries, s.ChainHead()), nil
}

// applied is the FSM's hook after each published state.
func (r *Registry) applied(s *trust.State) {
	r.sync.observeApplied(s.AppliedIndex())
	r.appliedMu.Lock()
	close(r.appliedCh)
	r.appliedCh = make(chan struct{})
	r.appliedMu.Unlock()
	r.triggerReconcile()
}

// waitApplied waits until the state's applied index is at least index.
func (r *Registry) waitApplied(ctx context.Context, index uint64) error {
	for {
		r.appliedMu.Lock()
		ch := r.appliedCh
		r.appliedMu.Unlock()
		if r.State().AppliedIndex() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for index %d: %w", ErrTimeout, index, ctx.Err())
		case <-r.done:
			return ErrClosed
		}
	}
}

// verifyingSnapshotStore checks every Raft snapshot before it lands on disk
// (installed from a leader or taken locally): a corrupt one is cancelled,
// never stored, and the transfer fails (the leader retries).
type verifyingSnapshotStore struct {
	raft.SnapshotStore
	g       *trust.Genesis
	refused func(error)
	stored  func(index uint64)
}

func (s *verifyingSnapshotStore) Create(version raft.SnapshotVersion, index, term uint64, c raft.Configuration, ci uint64, t raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, c, ci, t)
	if err != nil {
		return nil, err
	}
	return &verifyingSink{SnapshotSink: sink, s: s, index: index}, nil
}

type verifyingSink struct {
	raft.SnapshotSink
	s     *verifyingSnapshotStore
	index uint64
	buf   bytes.Buffer
	over  bool
}

func (k *verifyingSink) Write(p []byte) (int, error) {
	if k.buf.Len()+len(p) > maxRaftSnapshotBytes {
		k.over = true
	} else {
		k.buf.Write(p)
	}
	return k.SnapshotSink.Write(p)
}

func (k *verifyingSink) Close() error {
	var err error
	if k.over {
		err = trust.Corruptf("raft snapshot exceeds %d bytes", maxRaftSnapshotBytes)
	} else {
		_, err = verifyRaftSnapshot(k.buf.Bytes(), k.s.g)
	}
	if err != nil {
		_ = k.SnapshotSink.Cancel()
		k.s.refused(err)
		return err
	}
	if err := k.SnapshotSink.Close(); err != nil {
		return err
	}
	k.s.stored(k.index)
	return nil
}
