package node

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/internal/clockskew"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// What the node's listeners serve (node/server.Routes) and what its health
// endpoints and gauges report.

// routes fills in the handlers of the four listeners.
func (n *Node) routes() *server.Routes {
	rt := &server.Routes{
		Exchange: &server.Exchange{Receiver: n.receiver, Submitter: n.submitter, Outbox: n.store, Inbox: n.inbox(),
			MaxMessageBytes: int64(n.cfg.Exchange.MaxMessageBytes), MaxOutboxBytes: 2 * protocol.MaxMessageBytes, Log: n.outside, Metrics: n.metrics},
		Registry: n.regAPI, Peers: n.peerLookup,
		LocalTokens: n.tokens, AdminTokens: n.adminTokens, Store: n.store,
		Live: n.store.Failed, Ready: n.readiness, Metrics: n.metrics, Log: n.outside,
		Refresh: func(ctx context.Context) { n.refreshGauges(ctx, n.now()) },
	}
	if n.pusher != nil {
		rt.Accepted = n.pusher.Notify
	}
	if c, err := n.newConsole(); err != nil {
		n.log.Error("console not served: its embedded templates are broken", slog.Any("err", err))
	} else {
		rt.Console, rt.ConsolePublic = c.Admin(), c.Public()
	}
	if n.embedded != nil {
		rt.Records = n.embedded.Handler(n.outside)
	}
	if n.queries != nil {
		rt.Queries = n.queries
	}
	if n.follower != nil {
		wake := rt.Accepted
		rt.Accepted = func() {
			if wake != nil {
				wake()
			}
			n.follower.Notify()
		}
	}
	return rt
}

// newServer is the http.Server of one listener; Run shuts them all down.
func (n *Node) newServer(h http.Handler, tlsConfig *tls.Config) *http.Server {
	s := server.NewHTTPServer(h, tlsConfig, n.outside)
	n.servers = append(n.servers, s)
	return s
}

// inbox is the store's inbox as the national system may see it: held
// while the registry replica is stale.
func (n *Node) inbox() exchange.FreshInbox {
	return exchange.FreshInbox{Store: n.store, Fresh: n.reg.Fresh}
}

// peerLookup resolves the mTLS client of the peer API: a registered node of
// an active member, from one trust view.
func (n *Node) peerLookup(pin string) (server.Peer, bool) {
	nd, ok := n.reg.View().ActiveNodeByPin(pin)
	if !ok {
		return server.Peer{}, false
	}
	return server.Peer{NodeID: nd.ID, Member: nd.Member}, true
}

// peerClass tells the peer listener's budget (pintls.NewClassListener)
// whose a client key is, from the current trust view (classOf).
func (n *Node) peerClass(pin string) pintls.Class { return classOf(n.reg.View(), pin) }

// classOf is the budget class of a client key's pin in view: a
// registered node of an active member (ClassPeer), a registered active
// requester (ClassRequester, SPEC §11.1: it sends POST /v1/queries), or
// neither (ClassOther). A suspended requester is a stranger: its queries
// are refused anyway. Pure.
func classOf(v *trust.View, pin string) pintls.Class {
	if v == nil {
		return pintls.ClassOther
	}
	if _, ok := v.ActiveNodeByPin(pin); ok {
		return pintls.ClassPeer
	}
	if r, ok := v.RequesterByPin(pin); ok && r.Status == trust.StatusActive {
		return pintls.ClassRequester
	}
	return pintls.ClassOther
}

// readiness is the /readyz report: ready once Run serves, while the
// registry replica is fresh, the store has not failed, its volume is not
// full (store DESIGN §6) and this node's clock agrees with its peers'
// (DESIGN.md "Clock"). "reasons" lists, one line each, why it is not.
func (n *Node) readiness() (any, bool) {
	st := n.reg.Status()
	reg := map[string]any{"appliedIndex": st.AppliedIndex, "leader": st.Leader.ID}
	reasons := []string{}
	body := map[string]any{"node": n.cfg.NodeID, "registry": reg}
	if err := n.reg.Fresh(); err != nil {
		reg["stale"] = err.Error()
		reasons = append(reasons, "registry replica stale: "+err.Error())
	}
	if err := n.store.Failed(); err != nil {
		body["store"] = err.Error()
		reasons = append(reasons, "store failed: "+err.Error())
	}
	if err := n.store.Full(); err != nil {
		body["storageFull"] = err.Error()
		reasons = append(reasons, "storage full: "+err.Error())
	}
	if est := n.skew.Estimate(n.now()); est.Level != clockskew.Unknown {
		body["clock"] = map[string]any{"offsetSeconds": est.Offset.Round(time.Second).Seconds(), "peers": est.Peers, "verdict": est.Level.String()}
		if est.Level == clockskew.Off {
			reasons = append(reasons, est.Reason())
		}
	}
	select {
	case <-n.ready:
	default:
		reasons = append(reasons, "not serving yet")
	}
	body["reasons"] = reasons
	return body, len(reasons) == 0
}

// gauges refreshes the gauges from the store and the registry every 5 s
// (and /metrics refreshes them before each scrape).
func (n *Node) gauges(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		n.refreshGauges(ctx, n.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) refreshGauges(ctx context.Context, now time.Time) {
	// The ticker and each scrape refresh; one at a time, so that a
	// vector's Reset never interleaves with another refresh's Sets.
	n.gaugeMu.Lock()
	defer n.gaugeMu.Unlock()
	m := n.metrics
	full := 0.0
	if n.store.Full() != nil {
		full = 1
	}
	m.StorageFull.Set(full)
	m.ClockOffset.Set(n.skew.Estimate(now).Offset.Round(time.Second).Seconds())
	if c, err := n.store.Counts(ctx); err == nil {
		m.Pending.Set(float64(c.Queued))
		m.Dead.Set(float64(c.Dead))
		for _, consumer := range []string{server.Consumer, exchange.WebhookConsumer} {
			if consumer == exchange.WebhookConsumer && n.pusher == nil {
				continue
			}
			if acked, err := n.store.AckedUpTo(ctx, consumer); err == nil {
				m.InboxUnacked.WithLabelValues(consumer).Set(float64(c.Inbox - min(acked, c.Inbox)))
			}
		}
	}
	if q, err := n.store.QueueLengths(ctx); err == nil {
		m.PeerBacklog.Reset()
		for peer, l := range q {
			m.PeerBacklog.WithLabelValues(peer).Set(float64(l))
		}
	}
	st := n.reg.Status()
	m.RegistryIdx.Set(float64(st.AppliedIndex))
	m.RegistryLag.Set(st.Staleness.Seconds())
	m.RegistryTerm.Set(float64(st.Term))
	leader := 0.0
	if st.Leader.ID == n.cfg.NodeID {
		leader = 1
	}
	m.RegistryLeader.Set(leader)
	s := n.reg.State()
	m.KeyExpiry.Reset()
	for _, k := range s.Keys() {
		if k.Status == trust.KeyActive {
			m.KeyExpiry.WithLabelValues(k.Member, k.Kid, k.Role).Set(k.NotAfter.Time().Sub(now).Seconds())
		}
	}
	m.CertExpiry.Reset()
	for _, c := range s.Certificates() {
		if c.Status == trust.CertActive {
			m.CertExpiry.WithLabelValues(c.ID, c.Subject).Set(c.NotAfter.Time().Sub(now).Seconds())
		}
	}
}

// Option changes how New builds a node.
type Option func(*Node)

// WithMiddleware puts mw around the handlers of a listener ("peer",
// "local", "admin" or "health"), inside the node's own middleware (request
// ids, panic recovery, metrics). It exists to embed a node and to test
// what the network's other members see when a node misbehaves: the
// conformance suite's self-test builds broken variants of this node with
// it. Production configurations never use it.
func WithMiddleware(listener string, mw func(http.Handler) http.Handler) Option {
	return func(n *Node) { n.wrap[listener] = mw }
}

// WithStoreFault makes fault fail the store's commits while it returns an
// error, as a failed write of bbolt does (store.Options.CommitFault): the
// fault tests make a running node meet a full volume with it
// (syscall.ENOSPC) and give the space back by returning nil again.
// Production configurations never use it.
func WithStoreFault(fault func() error) Option {
	return func(n *Node) { n.storeFault = fault }
}

// WithClock makes now the node's exchange clock — message createdAt,
// receipts, the time window, delivery attempts, store times — instead of
// the system clock, so that a test can skew one node of a network in one
// process (the registry keeps the system clock). Production configurations
// never use it; a binary built with the crvsx_failpoint tag offsets the
// default clock by CRVSX_FAKE_TIME_OFFSET instead.
func WithClock(now func() time.Time) Option {
	return func(n *Node) { n.now = now }
}

func (n *Node) wrapped(listener string, h http.Handler) http.Handler {
	if mw := n.wrap[listener]; mw != nil {
		return mw(h)
	}
	return h
}
