package registry

// Test hooks of the Raft shell for the external cluster tests.

// SnapshotNow makes Raft take a snapshot now and compact its log (keeping
// TrailingLogs entries).
func (r *Registry) SnapshotNow() error { return r.raft.Snapshot().Error() }

// TransferLeadership asks the leader to hand leadership to another voter.
func (r *Registry) TransferLeadership() error { return r.raft.LeadershipTransfer().Error() }
