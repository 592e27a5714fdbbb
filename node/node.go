package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/internal/clockskew"
	"github.com/ecrn/crvsx/node/internal/failpoint"
	"github.com/ecrn/crvsx/node/internal/ratelog"
	"github.com/ecrn/crvsx/node/peer"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/query"
	"github.com/ecrn/crvsx/node/records"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Log lines strangers can cause: per kind, one a second after a burst of
// twenty (node/internal/ratelog).
const (
	outsideLinesPerSecond = 1
	outsideLinesBurst     = 20
)

// Node is a running member node: its registry replica, store, pipelines and
// listeners.
type Node struct {
	cfg       Config
	log       *slog.Logger
	gaugeMu   sync.Mutex // one refreshGauges at a time
	closeOnce sync.Once  // closeAll
	// outside logs what strangers can cause (refused requests, TLS
	// handshakes, refused raft peers): rate-limited per kind of line.
	outside *slog.Logger
	signer  atomic.Pointer[jws.Signer]
	cert    tls.Certificate
	self    protocol.Endpoint

	store   *store.Store
	reg     *registry.Registry
	regAPI  *registry.API
	peers   *peer.Client
	metrics *server.Metrics

	receiver    *exchange.Receiver
	submitter   *exchange.Submitter
	deliverer   *exchange.Deliverer
	pusher      *exchange.Pusher
	records     records.Source    // the person records status queries are matched against
	embedded    *records.Embedded // the embedded records backend, nil with records.backend http
	follower    *records.Follower // applies inbound events to the embedded records
	queries     *query.Handler    // POST /v1/queries
	tokens      *server.Tokens    // the national system's (local API)
	adminTokens *server.Tokens    // the operators' (admin API)

	lns     map[string]net.Listener // peer, local, admin, health (raft is the stream layer's)
	genesis *trust.Genesis
	view    registry.ViewFunc // the registry's view; the genesis view until the replica opens
	servers []*http.Server

	wrap       map[string]func(http.Handler) http.Handler // WithMiddleware, by listener
	storeFault func() error                               // WithStoreFault

	// now is the node's exchange clock (WithClock; in test builds offset
	// by CRVSX_FAKE_TIME_OFFSET); skew compares it with the peers'.
	now      func() time.Time
	skew     *clockskew.Estimator
	skewMu   sync.Mutex
	skewLast clockskew.Estimate // the last verdict logged
	ready    chan struct{}      // closed when Run serves
	runOnce  sync.Once
}

// New opens everything the node needs — keys, genesis, store, registry
// replica, listeners — and returns a node ready to Run. On error it closes
// what it opened. log may be nil (discard).
func New(ctx context.Context, cfg Config, logger *slog.Logger, opts ...Option) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n = &Node{cfg: cfg, log: logger.With("node", cfg.NodeID), lns: map[string]net.Listener{}, ready: make(chan struct{}), wrap: map[string]func(http.Handler) http.Handler{}}
	for _, o := range opts {
		o(n)
	}
	if n.now == nil {
		if off := failpoint.TimeOffset(); off != 0 {
			n.log.Warn("fake clock: this test build adds "+failpoint.TimeOffsetEnv+" to the node's time", slog.Duration("offset", off))
			n.now = func() time.Time { return time.Now().Add(off) }
		} else {
			n.now = time.Now
		}
	}
	n.skew = &clockskew.Estimator{Threshold: time.Duration(cfg.Exchange.ClockSkew)}
	n.outside = slog.New(ratelog.Handler(n.log.Handler(), outsideLinesPerSecond, outsideLinesBurst))
	n.self = protocol.Endpoint{NodeID: cfg.NodeID, Country: cfg.Member}
	// The node, not the result n: "return nil, err" has set n to nil by
	// the time this runs.
	opening := n
	defer func() {
		if err != nil {
			opening.closeAll()
			n = nil
		}
	}()

	// Keys and the pinned genesis, from the files the configuration names.
	sk, err := loadSigningKey(cfg)
	if err != nil {
		return nil, err
	}
	n.signer.Store(sk)
	if n.cert, err = loadTLSKey(cfg); err != nil {
		return nil, err
	}
	genesis, err := loadGenesis(cfg)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if n.store, err = store.Open(ctx, filepath.Join(cfg.DataDir, "node.db"), store.Options{NoSync: cfg.Exchange.NoSync, Logger: n.log.With("part", "store"),
		CommitFault: n.storeFault, Now: n.now}); err != nil {
		return nil, err
	}

	// Listeners first, so that ports are taken before anything depends on
	// them and ":0" addresses resolve.
	for name, addr := range map[string]string{"peer": cfg.Listen.Peer, "local": cfg.Listen.Local, "admin": cfg.Listen.Admin, "health": cfg.Listen.Health} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen.%s: %w", name, err)
		}
		n.lns[name] = ln
	}
	raftLn, err := net.Listen("tcp", cfg.Listen.Raft)
	if err != nil {
		return nil, fmt.Errorf("listen.raft: %w", err)
	}

	// The registry replica over the pinned mTLS stream layer.
	// view is called from the stream layer's goroutines while Open runs:
	// it reads the replica through an atomic pointer, never n.reg.
	genView := trust.NewView(trust.NewState(genesis))
	var opened atomic.Pointer[registry.Registry]
	view := func() *trust.View {
		if r := opened.Load(); r != nil {
			return r.View()
		}
		return genView
	}
	n.genesis, n.view = genesis, view
	advertise, err := raftAdvertise(cfg, genesis)
	if err != nil {
		raftLn.Close()
		return nil, err
	}
	sl, err := registry.NewStreamLayer(raftLn, registry.StreamConfig{Certificate: n.cert, View: view, GenesisHash: genesis.Hash(),
		Advertise: advertise, Logger: n.outside.With("part", "raft-transport")})
	if err != nil {
		raftLn.Close()
		return nil, err
	}
	rc := registry.DefaultConfig()
	rc.NodeID, rc.Dir, rc.Genesis, rc.GenesisPin = cfg.NodeID, filepath.Join(cfg.DataDir, "registry"), genesis, cfg.Registry.GenesisSHA256
	netTransport := sl.NewNetworkTransport(3, 10*time.Second, nil)
	rc.Transport = netTransport
	rc.Forwarder = &registry.HTTPForwarder{NodeID: cfg.NodeID, Certificate: n.cert, View: view}
	rc.Logger = n.log.With("part", "registry")
	if d := time.Duration(cfg.Registry.HeartbeatTimeout); d > 0 {
		rc.HeartbeatTimeout = d
		rc.LeaderLeaseTimeout = min(rc.LeaderLeaseTimeout, d)
	}
	if d := time.Duration(cfg.Registry.ElectionTimeout); d > 0 {
		rc.ElectionTimeout = d
	}
	rc.MaxStaleness = time.Duration(cfg.Registry.MaxStaleness)
	if n.reg, err = registry.Open(ctx, rc); err != nil {
		netTransport.Close()
		return nil, err
	}
	opened.Store(n.reg)
	if n.regAPI, err = registry.NewAPI(registry.APIConfig{Backend: n.reg, Logger: n.outside.With("part", "registry-api")}); err != nil {
		return nil, err
	}

	// The pipelines. Keys are looked up in the registry's trust view of
	// the moment, so a revocation applies to the next message.
	n.metrics = server.NewMetrics()
	verifier := &exchange.Verifier{
		Keys: n.reg, Validity: n.reg, Typ: protocol.TypEvent,
		MaxBytes: cfg.Exchange.MaxMessageBytes, Recipient: &n.self,
		Skew: time.Duration(cfg.Exchange.ClockSkew), MaxAge: time.Duration(cfg.Exchange.MaxAge),
	}
	signer := n.signer.Load
	n.receiver = &exchange.Receiver{Verifier: verifier, Store: n.store, Signer: signer, Self: n.self, Now: n.now, Log: n.outside, Fresh: n.reg.Fresh}
	if n.peers, err = peer.New(peer.Config{Certificate: n.cert, PinFor: n.pinFor, Timeout: time.Duration(cfg.Exchange.PeerTimeout), Logger: n.log.With("part", "peer"),
		Now: n.now, ObserveDate: n.observeDate}); err != nil {
		return nil, err
	}
	if n.deliverer, err = exchange.NewDeliverer(exchange.DelivererConfig{
		Outbox: n.store, Sender: exchange.SenderFunc(n.send), Keys: n.reg, Validity: n.reg,
		Lifetime: time.Duration(cfg.Exchange.DeliveryLifetime), BackoffBase: time.Duration(cfg.Exchange.BackoffBase),
		BackoffCap: time.Duration(cfg.Exchange.BackoffCap), BreakerFailures: cfg.Exchange.BreakerFailures,
		BreakerCooldown: time.Duration(cfg.Exchange.BreakerCooldown), PollInterval: 5 * time.Second,
		Logger: n.log.With("part", "delivery"), Metrics: n.metrics.Delivery(), Clock: clock{n.now},
	}); err != nil {
		return nil, err
	}
	n.submitter = &exchange.Submitter{Store: n.store, Signer: signer, Self: n.self, NodeOf: n.nodeOf, Notify: n.deliverer.Notify, Now: n.now}
	if cfg.Webhook.URL != "" {
		secret, err := readSecret(cfg.Webhook.SecretFile)
		if err != nil {
			return nil, err
		}
		n.pusher = &exchange.Pusher{URL: cfg.Webhook.URL, Secret: bytes.TrimSpace(secret), Store: n.inbox(), Log: n.log.With("part", "webhook"),
			Failed: n.metrics.WebhookFails.Inc, BackoffBase: time.Duration(cfg.Exchange.BackoffBase), BackoffCap: time.Duration(cfg.Exchange.BackoffCap)}
		n.pusher.Init()
	}
	if err := n.openRecords(); err != nil {
		return nil, err
	}
	if err := n.openQueries(); err != nil {
		return nil, err
	}
	if n.tokens, err = loadTokens(cfg.Local.TokensFile); err != nil {
		return nil, err
	}
	if n.adminTokens, err = loadTokens(cfg.Admin.TokensFile); err != nil {
		return nil, err
	}
	return n, nil
}

// SetSigner makes s the key that signs this node's outbound messages and
// receipts from now on (after a key rotation was applied in the registry).
func (n *Node) SetSigner(s *jws.Signer) error {
	if s.Member() != n.cfg.Member {
		return fmt.Errorf("key of member %s cannot sign for %s", s.Member(), n.cfg.Member)
	}
	n.signer.Store(s)
	return nil
}

// Signer is the key that signs this node's messages now.
func (n *Node) Signer() *jws.Signer { return n.signer.Load() }

// Addr returns the address a listener ("peer", "local", "admin", "health")
// is bound to; useful with ":0" addresses.
func (n *Node) Addr(name string) string {
	if ln, ok := n.lns[name]; ok {
		return ln.Addr().String()
	}
	return ""
}

// Registry returns the node's registry replica.
func (n *Node) Registry() *registry.Registry { return n.reg }

// Store returns the node's store.
func (n *Node) Store() *store.Store { return n.store }

// Ready is closed once Run serves.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Run serves until ctx ends, then shuts down cleanly: the listeners stop
// accepting, in-flight requests finish (bounded), the workers stop with
// their work safely queued in the store, and the registry and store close.
func (n *Node) Run(ctx context.Context) error {
	first := false
	n.runOnce.Do(func() { first = true })
	if !first {
		return errors.New("node: Run called twice")
	}
	defer n.closeAll()

	rt := n.routes()
	peerSrv := n.newServer(server.Wrap("peer", n.wrapped("peer", rt.Peer()), n.outside, n.metrics), nil)
	// Anyone on the network may connect here: the listener does the TLS
	// handshakes within a budget that registered peers always reach
	// (pintls.Budget), and serves only what completed them.
	n.lns["peer"] = pintls.NewClassListener(n.lns["peer"], pintls.ServerConfig(n.cert), pintls.Budget{}, n.peerClass, n.metrics.PeerConnRefused)
	localSrv := n.newServer(server.Wrap("local", n.wrapped("local", rt.Local()), n.outside, n.metrics), nil)
	adminSrv := n.newServer(server.Wrap("admin", n.wrapped("admin", rt.Admin()), n.outside, n.metrics), nil)
	healthSrv := n.newServer(server.Wrap("health", n.wrapped("health", rt.Health()), n.outside, n.metrics), nil)

	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	serve := func(name string, s *http.Server) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Serve(n.lns[name]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("listener stopped", slog.String("listener", name), slog.Any("err", err))
			}
		}()
	}
	serve("peer", peerSrv)
	serve("local", localSrv)
	serve("admin", adminSrv)
	serve("health", healthSrv)
	wg.Add(1)
	go func() { defer wg.Done(); _ = n.deliverer.Run(wctx) }()
	if n.pusher != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.pusher.Run(wctx) }()
	}
	if n.follower != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.follower.Run(wctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); n.gauges(wctx) }()
	if n.mustJoin() {
		wg.Add(1)
		go func() { defer wg.Done(); n.joinLoop(wctx) }()
	}
	n.log.Info("node serving", slog.String("peer", "https://"+n.Addr("peer")), slog.String("local", "http://"+n.Addr("local")),
		slog.String("admin", "http://"+n.Addr("admin")), slog.String("health", "http://"+n.Addr("health")))
	close(n.ready)

	<-ctx.Done()
	n.log.Info("node stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, s := range n.servers {
		_ = s.Shutdown(sctx)
	}
	stopWorkers()
	wg.Wait()
	n.log.Info("node stopped")
	return nil
}

// closeAll closes what New opened, in reverse order, once. It leaves the
// fields set: a TLS handshake or a request still in flight may read the
// registry's last view or the closed store's answer, never a nil pointer
// (the race detector saw a peer handshake read n.reg as closeAll cleared it).
func (n *Node) closeAll() { n.closeOnce.Do(n.closeParts) }

func (n *Node) closeParts() {
	if n.peers != nil {
		n.peers.Close()
	}
	for _, ln := range n.lns {
		ln.Close()
	}
	if n.reg != nil {
		if err := n.reg.Close(); err != nil {
			n.log.Error("close registry", slog.Any("err", err))
		}
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			n.log.Error("close store", slog.Any("err", err))
		}
	}
}
