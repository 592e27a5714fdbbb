package registry

import (
	"context"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/hashicorp/raft"
)

// watchLeadership reacts to leadership changes: a new leader runs its
// barrier at once (so that it is in sync and stamps correctly) and
// reconciles the Raft configuration with the state.
func (r *Registry) watchLeadership() {
	defer r.wg.Done()
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.raft.RegisterObserver(obs)
	defer r.raft.DeregisterObserver(obs)
	for {
		select {
		case o := <-ch:
			lo := o.Data.(raft.LeaderObservation)
			r.log.Info("registry: leader changed", "leader", lo.LeaderID, "term", r.raft.CurrentTerm())
			r.wire.resetMatch()
			r.triggerReconcile()
		case <-r.done:
			return
		}
	}
}

func (r *Registry) triggerReconcile() {
	select {
	case r.reconcileCh <- struct{}{}:
	default:
	}
}

// persistSyncInterval is how often an idle node records its last sync.
const persistSyncInterval = 30 * time.Second

// housekeeping is the node's one background loop: it keeps the leader's
// sync time, readies a new leader, reconciles membership on the leader
// (after each apply, each leadership change and every ReconcileInterval)
// and persists the last sync time.
func (r *Registry) housekeeping() {
	defer r.wg.Done()
	tick := time.NewTicker(min(r.cfg.HeartbeatTimeout/4, 250*time.Millisecond))
	defer tick.Stop()
	reconcileTick := time.NewTicker(r.cfg.ReconcileInterval)
	defer reconcileTick.Stop()
	var persisted time.Time
	lastPersist := time.Now()
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
			if r.raft.State() == raft.Leader {
				if r.readyTerm.Load() != r.raft.CurrentTerm() {
					ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ElectionTimeout)
					if err := r.ensureReady(ctx); err != nil {
						r.log.Debug("registry: leader not ready yet", "error", err)
					}
					cancel()
					r.triggerReconcile()
				}
				if r.leaderInSync() {
					r.sync.markNow()
				}
			}
			if t := r.sync.last(); time.Since(lastPersist) >= persistSyncInterval && t.After(persisted) && r.fsm.failure() == nil {
				if err := r.store.saveSyncedAt(t); err != nil {
					r.log.Warn("registry: cannot record last sync time", "error", err)
				}
				persisted, lastPersist = t, time.Now()
			}
		case <-reconcileTick.C:
			r.reconcile()
		case <-r.reconcileCh:
			r.reconcile()
		}
	}
}

// reconcile makes the Raft configuration follow the state (DESIGN.md §13),
// on the leader only. Each step is idempotent and re-evaluated after every
// apply and leadership change:
//
//   - a node the state no longer holds, or whose member withdrew: RemoveServer;
//   - a voter whose node's role is nonvoter, or whose member is suspended:
//     DemoteVoter;
//   - a non-voter whose node's role is voter, member active, and whose match
//     index is within CatchUpEntries of the leader's last index: AddVoter;
//   - a server whose registered raftAddress changed: re-added at it.
//
// Nodes the state holds but the configuration does not are not added: a
// node joins first (AddNonvoter). The leader changes its own membership
// last, and never leaves the configuration without a voter.
func (r *Registry) reconcile() {
	if r.raft.State() != raft.Leader || r.readyTerm.Load() != r.raft.CurrentTerm() {
		return
	}
	s := r.State()
	cf := r.raft.GetConfiguration()
	if cf.Error() != nil {
		return
	}
	servers := cf.Configuration().Servers
	voters := 0
	for _, srv := range servers {
		if srv.Suffrage == raft.Voter {
			voters++
		}
	}
	last := r.raft.LastIndex()
	timeout := r.cfg.ElectionTimeout
	var self *raft.Server
	for i := range servers {
		srv := servers[i]
		if string(srv.ID) == r.cfg.NodeID {
			self = &servers[i]
			continue
		}
		act, addr := r.desired(s, srv)
		switch act {
		case actRemove:
			if srv.Suffrage == raft.Voter && voters <= 1 {
				continue
			}
			r.log.Info("registry: removing server the registry no longer holds", "id", srv.ID)
			r.configChange(r.raft.RemoveServer(srv.ID, 0, timeout), srv.ID, "remove")
			if srv.Suffrage == raft.Voter {
				voters--
			}
		case actDemote:
			if voters <= 1 {
				continue
			}
			r.log.Info("registry: demoting voter", "id", srv.ID)
			r.configChange(r.raft.DemoteVoter(srv.ID, 0, timeout), srv.ID, "demote")
			voters--
		case actPromote:
			if m := r.wire.matchIndex(srv.ID); m+r.cfg.CatchUpEntries < last {
				r.log.Debug("registry: non-voter not caught up yet", "id", srv.ID, "match", m, "last", last)
				continue
			}
			r.log.Info("registry: promoting non-voter to voter", "id", srv.ID)
			r.configChange(r.raft.AddVoter(srv.ID, raft.ServerAddress(addr), 0, timeout), srv.ID, "promote")
			voters++
		case actReaddress:
			r.log.Info("registry: server's registered raft address changed", "id", srv.ID, "address", addr)
			if srv.Suffrage == raft.Voter {
				r.configChange(r.raft.AddVoter(srv.ID, raft.ServerAddress(addr), 0, timeout), srv.ID, "readdress")
			} else {
				r.configChange(r.raft.AddNonvoter(srv.ID, raft.ServerAddress(addr), 0, timeout), srv.ID, "readdress")
			}
		}
	}
	if self == nil {
		return
	}
	switch act, _ := r.desired(s, *self); act {
	case actRemove:
		if voters > 1 {
			r.log.Warn("registry: this leader's node left the registry; removing itself (leadership moves)")
			r.configChange(r.raft.RemoveServer(self.ID, 0, timeout), self.ID, "remove")
		}
	case actDemote:
		if voters > 1 {
			r.log.Warn("registry: this leader's node is no longer a voter in the registry; demoting itself (leadership moves)")
			r.configChange(r.raft.DemoteVoter(self.ID, 0, timeout), self.ID, "demote")
		}
	}
}

type memberAction int

const (
	actNone memberAction = iota
	actRemove
	actDemote
	actPromote
	actReaddress
)

// desired is what the state says about a server of the configuration.
func (r *Registry) desired(s *trust.State, srv raft.Server) (memberAction, string) {
	n, ok := s.Node(string(srv.ID))
	if !ok {
		return actRemove, ""
	}
	m, _ := s.Member(n.Member)
	switch {
	case m.Status == trust.StatusWithdrawn:
		return actRemove, ""
	case srv.Suffrage == raft.Voter && (n.Role != trust.RoleVoter || m.Status != trust.StatusActive):
		return actDemote, ""
	case srv.Suffrage != raft.Voter && n.Role == trust.RoleVoter && m.Status == trust.StatusActive:
		return actPromote, n.RaftAddress
	case string(srv.Address) != n.RaftAddress:
		return actReaddress, n.RaftAddress
	}
	return actNone, ""
}

// configChange waits for a membership change; failures are logged and
// retried at the next reconciliation.
func (r *Registry) configChange(f raft.IndexFuture, id raft.ServerID, what string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*r.cfg.ElectionTimeout)
	defer cancel()
	if err := r.waitFuture(ctx, f); err != nil {
		r.log.Warn("registry: membership change failed; will retry", "id", id, "change", what, "error", err)
	}
}
