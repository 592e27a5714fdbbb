package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/hashicorp/raft"
)

// This file is the Raft shell's public API (DESIGN.md §11, §13, §14, §17):
// Config, Open, and the methods of *Registry. The pure core (Apply, State,
// TrustView…) decides everything about trust; the shell orders entries with
// hashicorp/raft, persists each applied state in its own bbolt file and
// publishes the trust view.

// Default timings for a registry that spans borders (DESIGN.md §13). In
// hashicorp/raft's terms: a follower that hears nothing from a leader for
// HeartbeatTimeout (randomised up to twice that) starts an election (the
// leader sends heartbeats every HeartbeatTimeout/10); a candidate retries
// after ElectionTimeout; a leader that cannot reach a quorum for
// LeaderLeaseTimeout steps down; CommitTimeout is the idle interval at which
// the leader tells followers its commit index.
const (
	DefaultHeartbeatTimeout   = 2 * time.Second
	DefaultElectionTimeout    = 5 * time.Second
	DefaultLeaderLeaseTimeout = 2 * time.Second
	DefaultCommitTimeout      = 100 * time.Millisecond
	DefaultSnapshotThreshold  = 1024
	DefaultSnapshotInterval   = 2 * time.Minute
	DefaultTrailingLogs       = 10240
	DefaultCatchUpEntries     = 64
	DefaultReconcileInterval  = 10 * time.Second
	DefaultSnapshotRetain     = 2
)

// File names inside Config.Dir.
const (
	StateFileName    = "registry.db" // the registry state + applied index (bbolt), DESIGN.md §11
	RaftFileName     = "raft.db"     // the Raft log and stable store (raft-boltdb)
	SnapshotsDirName = "snapshots"   // Raft snapshots (file snapshot store)
)

// Config configures one registry node. Build it from DefaultConfig and set
// the identity, files and injected parts; Validate reports what is missing.
type Config struct {
	// NodeID is this node's id (SPEC §2), also its Raft server ID.
	NodeID string
	// Dir holds StateFileName, RaftFileName and SnapshotsDirName. It is
	// created (0700) if missing.
	Dir string
	// Genesis is the parsed, validated genesis (ParseGenesis) and
	// GenesisPin the pinned SHA-256 from the node's own configuration
	// (registry.genesisSha256). Open refuses (ErrGenesisPin) a genesis,
	// a state file or a snapshot of any other network.
	Genesis    *trust.Genesis
	GenesisPin string

	// Transport carries Raft's RPCs: the mTLS stream layer in production
	// (transport*.go), raft.NewInmemTransport in tests. Its LocalAddr must
	// be this node's registered raftAddress. Raft closes it on Close; if
	// Open fails, the caller still owns it. It should implement
	// raft.WithPreVote (InmemTransport and NetworkTransport do).
	Transport raft.Transport
	// Forwarder carries a follower's writes and read-index requests to
	// the leader. nil: a follower's Submit returns ErrNotLeader and its
	// LinearizableRead ErrNotLeader.
	Forwarder Forwarder

	// Logger receives the shell's and Raft's logs. nil: discard. Open
	// adds no attributes: a logger that should name the node carries it
	// already (a member node's logs say node=… once).
	Logger *slog.Logger
	// Clock is this node's wall clock: the leader's stamps (REGISTRY.md §9)
	// and staleness (§14). nil: time.Now. Never read by the FSM.
	Clock func() time.Time

	// Raft timings (see the Default… constants).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold and SnapshotInterval: Raft snapshots when at least
	// SnapshotThreshold entries were appended since the last one, checked
	// every SnapshotInterval. TrailingLogs entries stay in the log after a
	// snapshot, so that a follower cut off for a while catches up from the
	// log rather than by snapshot.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// SnapshotRetain is how many Raft snapshots are kept on disk.
	SnapshotRetain int

	// MaxStaleness, if not zero, tightens the fail-closed bound below the
	// policy's stalenessBoundSeconds (DESIGN.md §14); it can never loosen it.
	MaxStaleness time.Duration
	// CatchUpEntries: the leader promotes a non-voter the state names a
	// voter only when its match index is within this many entries of the
	// leader's last index (DESIGN.md §13).
	CatchUpEntries uint64
	// ReconcileInterval: the leader re-checks the Raft configuration
	// against the state at least this often (and after every apply and
	// leadership change).
	ReconcileInterval time.Duration
}

// DefaultConfig returns a Config with the WAN defaults and no identity.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   DefaultHeartbeatTimeout,
		ElectionTimeout:    DefaultElectionTimeout,
		LeaderLeaseTimeout: DefaultLeaderLeaseTimeout,
		CommitTimeout:      DefaultCommitTimeout,
		SnapshotThreshold:  DefaultSnapshotThreshold,
		SnapshotInterval:   DefaultSnapshotInterval,
		TrailingLogs:       DefaultTrailingLogs,
		SnapshotRetain:     DefaultSnapshotRetain,
		CatchUpEntries:     DefaultCatchUpEntries,
		ReconcileInterval:  DefaultReconcileInterval,
	}
}

// Validate reports the first problem of c, wrapping ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case !protocol.IsMemberNodeID(c.NodeID):
		return bad("node id %q is not a SPEC §2 node id", c.NodeID)
	case c.Dir == "":
		return bad("dir is required")
	case c.Genesis == nil:
		return bad("genesis is required")
	case c.Transport == nil:
		return bad("transport is required")
	case c.HeartbeatTimeout < 5*time.Millisecond || c.ElectionTimeout < c.HeartbeatTimeout:
		return bad("heartbeat timeout %s, election timeout %s: need 5ms ≤ heartbeat ≤ election", c.HeartbeatTimeout, c.ElectionTimeout)
	case c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return bad("leader lease timeout %s: need 5ms ≤ lease ≤ heartbeat timeout %s", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.CommitTimeout < time.Millisecond:
		return bad("commit timeout %s below 1ms", c.CommitTimeout)
	case c.SnapshotThreshold == 0 || c.SnapshotInterval < 5*time.Millisecond:
		return bad("snapshot threshold %d / interval %s", c.SnapshotThreshold, c.SnapshotInterval)
	case c.SnapshotRetain < 1:
		return bad("snapshot retain %d", c.SnapshotRetain)
	case c.MaxStaleness < 0:
		return bad("negative max staleness")
	case c.ReconcileInterval <= 0:
		return bad("reconcile interval %s", c.ReconcileInterval)
	}
	if err := c.Genesis.CheckPin(c.GenesisPin); err != nil {
		return err
	}
	return nil
}

// Leader names the Raft leader: its node id and Raft address.
type Leader struct {
	ID      string
	Address string
}

// Forwarder carries requests of a follower to the leader (DESIGN.md §13).
// The production implementation is an mTLS API client; tests call the
// leader's *Registry in process. Implementations must honour ctx.
type Forwarder interface {
	// Forward submits entry data to leader, whose handler calls
	// (*Registry).SubmitLeader, and returns its Result. Errors from the
	// leader must keep their class: ErrNotLeader when the target is no
	// longer the leader, ErrTimeout, ErrLeaderClockBehind, ErrNoLeader.
	Forward(ctx context.Context, leader Leader, data []byte) (trust.Result, error)
	// ReadIndex asks leader for a read index: (*Registry).ReadIndex there.
	ReadIndex(ctx context.Context, leader Leader) (uint64, error)
}

// Shell errors. Pure-core errors (ErrGenesisPin, ErrCorruptSnapshot…) are in
// errors.go; Open returns them as they are.
var (
	// ErrInvalidConfig: Config.Validate refused the configuration.
	ErrInvalidConfig = errors.New("invalid registry configuration")

	// ErrUnavailable is the family of "try again later" failures of
	// writes and linearizable reads (HTTP 503, problem UNAVAILABLE).
	// Nothing about trust was decided.
	ErrUnavailable = errors.New("registry unavailable")

	// ErrNoLeader: this node is not the leader and knows no leader (an
	// election is running, or the node is cut off). Nothing was
	// submitted. Retry later, or on another node.
	ErrNoLeader = fmt.Errorf("no registry leader known: %w", ErrUnavailable)

	// ErrNotLeader: a leader-only call (SubmitLeader, ReadIndex,
	// AddNonvoter) on a node that is not the leader. Nothing was
	// submitted; Status().Leader names the leader if one is known.
	ErrNotLeader = fmt.Errorf("not the registry leader: %w", ErrUnavailable)

	// ErrTimeout: the write was not confirmed before ctx ended, or the
	// leader lost its leadership while it was in flight (no quorum). Its
	// outcome is unknown: it may still be applied. Retry with the SAME
	// signed command: an id applies at most once, and Submit returns the
	// original result of a command that was already applied.
	ErrTimeout = fmt.Errorf("registry write not confirmed in time, outcome unknown: %w", ErrUnavailable)

	// ErrLeaderClockBehind: the command's issuedAt is later than the
	// leader's time plus the policy's skew — the leader's clock is behind,
	// or the signer's is ahead — so Apply would refuse it
	// COMMAND_FROM_FUTURE and burn its id. The leader did not propose it
	// and the id is not burnt: retry the same command later (DESIGN.md
	// §15, skewed leader clock).
	ErrLeaderClockBehind = fmt.Errorf("command issued after the registry leader's time (leader clock behind?): %w", ErrUnavailable)

	// ErrStale: this replica has not been in sync with a leader for
	// longer than the staleness bound; see *StaleError and Fresh.
	ErrStale = errors.New("registry replica is stale")

	// ErrNodeNotRegistered: AddNonvoter for a node the state does not
	// hold, whose member is not active, or whose address is not the
	// registered raftAddress.
	ErrNodeNotRegistered = errors.New("node is not registered in the registry")

	// ErrStoreFailed: the state file could not be written; the node
	// stopped applying entries (its staleness grows) and must be
	// restarted once the disk is fixed. It never applies an entry to a
	// state that missed one.
	ErrStoreFailed = errors.New("registry state file failed")

	// ErrClosed: the Registry was closed.
	ErrClosed = errors.New("registry closed")
)

// StaleError is returned by Fresh past the staleness bound.
type StaleError struct {
	Staleness time.Duration // now − SyncedAt (DESIGN.md §14)
	Bound     time.Duration
	SyncedAt  time.Time // zero: never synced since this node's state was created
}

func (e *StaleError) Error() string {
	if e.SyncedAt.IsZero() {
		return fmt.Sprintf("registry replica is stale: never in sync with a leader (bound %s)", e.Bound)
	}
	return fmt.Sprintf("registry replica is stale: last in sync %s ago (bound %s)", e.Staleness.Round(time.Millisecond), e.Bound)
}

// Unwrap makes errors.Is(err, ErrStale) hold.
func (e *StaleError) Unwrap() error { return ErrStale }

// Raft roles as Status reports them.
const (
	RaftLeader    = "leader"
	RaftFollower  = "follower"
	RaftCandidate = "candidate"
	RaftShutdown  = "shutdown"
)

// Server is a member of the Raft configuration.
type Server struct {
	ID       string
	Address  string
	Suffrage string // RoleVoter or RoleNonvoter
}

// Status is what a node knows about itself (DESIGN.md §14): reported by
// /readyz, the staleness header, metrics and the console.
type Status struct {
	NodeID string
	// Role is the Raft role (RaftLeader, RaftFollower…); Suffrage is
	// RoleVoter or RoleNonvoter in the Raft configuration ("" if this node
	// is not in it).
	Role     string
	Suffrage string
	Leader   Leader // zero if no leader is known
	Term     uint64

	AppliedIndex  uint64 // of the registry state (the trust view)
	CommitIndex   uint64 // Raft's commit index as this node knows it
	LastIndex     uint64 // last index in this node's Raft log
	ConsensusTime trust.Timestamp
	StateHash     string
	ChainHead     string

	// LastLeaderContact is the last time this node heard from a leader
	// (now for a leader); zero if never since Open.
	LastLeaderContact time.Time
	// SyncedAt is the last time this node knew it had applied everything
	// the leader had committed; Staleness = now − SyncedAt. A zero SyncedAt
	// means never in sync (Staleness is then 0 and Stale true): always
	// read Stale, not Staleness alone.
	SyncedAt       time.Time
	Staleness      time.Duration
	StalenessBound time.Duration
	Stale          bool

	// Servers is the latest Raft configuration as this node knows it.
	Servers []Server

	// SnapshotsRestored counts Raft snapshots installed since Open;
	// SnapshotError is the last snapshot refused (nil if none).
	SnapshotsRestored uint64
	SnapshotError     error
	// Failed is set once the state file failed (ErrStoreFailed).
	Failed error
}
