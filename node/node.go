package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/peer"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// maxPeerConns bounds the open connections on the peer listener.
const maxPeerConns = 1024

// Node is a running member node: its registry replica, store, pipelines and
// listeners.
type Node struct {
	cfg    Config
	log    *slog.Logger
	signer atomic.Pointer[jws.Signer]
	cert   tls.Certificate
	self   protocol.Endpoint

	store   *store.Store
	reg     *registry.Registry
	peers   *peer.Client
	metrics *server.Metrics

	receiver    *exchange.Receiver
	submitter   *exchange.Submitter
	deliverer   *exchange.Deliverer
	pusher      *exchange.Pusher
	tokens      *server.Tokens // the national system's (local API)
	adminTokens *server.Tokens // the operators' (admin API)

	lns     map[string]net.Listener // peer, local, admin, health (raft is the stream layer's)
	genesis *registry.Genesis
	view    registry.ViewFunc // the registry's view; the genesis view until the replica opens
	servers []*http.Server

	ready   chan struct{} // closed when Run serves
	runOnce sync.Once
}

// New opens everything the node needs — keys, genesis, store, registry
// replica, listeners — and returns a node ready to Run. On error it closes
// what it opened. log may be nil (discard).
func New(ctx context.Context, cfg Config, logger *slog.Logger) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n = &Node{cfg: cfg, log: logger.With("node", cfg.NodeID), lns: map[string]net.Listener{}, ready: make(chan struct{})}
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

	// Keys: the member's signing key and the node's TLS key.
	kb, err := readSecret(cfg.Keys.SigningKey)
	if err != nil {
		return nil, err
	}
	sk, err := jws.ParsePrivateJWK(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Keys.SigningKey, err)
	}
	if sk.Member() != cfg.Member {
		return nil, fmt.Errorf("%w: keys.signingKey belongs to member %s, not %s", ErrConfig, sk.Member(), cfg.Member)
	}
	n.signer.Store(sk)
	certPEM, err := os.ReadFile(cfg.Keys.TLSCert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readSecret(cfg.Keys.TLSKey)
	if err != nil {
		return nil, err
	}
	if n.cert, err = registry.LoadNodeTLSKey(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("keys.tlsCert/tlsKey: %w", err)
	}

	// The genesis, pinned.
	doc, err := os.ReadFile(cfg.Registry.Genesis)
	if err != nil {
		return nil, err
	}
	endFile, err := os.ReadFile(cfg.Registry.Endorsements)
	if err != nil {
		return nil, err
	}
	ends, err := registry.ParseEndorsementsFile(endFile, doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Registry.Endorsements, err)
	}
	genesis, err := registry.ParseGenesis(doc, ends)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Registry.Genesis, err)
	}
	if err := genesis.CheckPin(cfg.Registry.GenesisSHA256); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if n.store, err = store.Open(ctx, filepath.Join(cfg.DataDir, "node.db"), store.Options{NoSync: cfg.Exchange.NoSync, Logger: n.log.With("part", "store")}); err != nil {
		return nil, err
	}

	// Listeners first, so that ports are taken before anything depends on
	// them and ":0" addresses resolve.
	for name, addr := range map[string]string{"peer": cfg.Listen.Peer, "local": cfg.Listen.Local, "admin": cfg.Listen.Admin, "health": cfg.Listen.Health} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen.%s: %w", name, err)
		}
		if name == "peer" {
			// Anyone on the network may open a TLS connection here: bound
			// how many are open at once.
			ln = server.LimitListener(ln, maxPeerConns)
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
	genView := registry.NewTrustView(registry.NewState(genesis))
	var opened atomic.Pointer[registry.Registry]
	view := func() *registry.TrustView {
		if r := opened.Load(); r != nil {
			return r.View()
		}
		return genView
	}
	n.genesis, n.view = genesis, view
	sl, err := registry.NewStreamLayer(raftLn, registry.StreamConfig{Certificate: n.cert, View: view, GenesisHash: genesis.Hash(),
		Logger: n.log.With("part", "raft-transport")})
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

	// The pipelines.
	keys := liveKeys{n.reg}
	n.metrics = server.NewMetrics()
	verifier := &exchange.Verifier{
		Keys: keys, Validity: keys, Typ: protocol.TypEvent,
		MaxBytes: cfg.Exchange.MaxMessageBytes, Recipient: &n.self,
		Skew: time.Duration(cfg.Exchange.ClockSkew), MaxAge: time.Duration(cfg.Exchange.MaxAge),
	}
	signer := n.signer.Load
	n.receiver = &exchange.Receiver{Verifier: verifier, Store: n.store, Signer: signer, Self: n.self, Now: time.Now, Log: n.log, Fresh: n.reg.Fresh}
	if n.peers, err = peer.New(peer.Config{Certificate: n.cert, PinFor: n.pinFor, Timeout: time.Duration(cfg.Exchange.PeerTimeout), Logger: n.log.With("part", "peer")}); err != nil {
		return nil, err
	}
	if n.deliverer, err = exchange.NewDeliverer(exchange.DelivererConfig{
		Outbox: outboxAdapter{n.store}, Sender: exchange.SenderFunc(n.send), Keys: keys, Validity: keys,
		Lifetime: time.Duration(cfg.Exchange.DeliveryLifetime), BackoffBase: time.Duration(cfg.Exchange.BackoffBase),
		BackoffCap: time.Duration(cfg.Exchange.BackoffCap), BreakerFailures: cfg.Exchange.BreakerFailures,
		BreakerCooldown: time.Duration(cfg.Exchange.BreakerCooldown), PollInterval: 5 * time.Second,
		Logger: n.log.With("part", "delivery"), Metrics: deliveryMetrics{n.metrics},
	}); err != nil {
		return nil, err
	}
	n.submitter = &exchange.Submitter{Store: n.store, Signer: signer, Self: n.self, NodeOf: n.nodeOf, Notify: n.deliverer.Notify, Now: time.Now}
	if cfg.Webhook.URL != "" {
		secret, err := readSecret(cfg.Webhook.SecretFile)
		if err != nil {
			return nil, err
		}
		n.pusher = &exchange.Pusher{URL: cfg.Webhook.URL, Secret: bytes.TrimSpace(secret), Store: freshInbox{n.store, n.reg}, Log: n.log.With("part", "webhook"),
			Failed: n.metrics.WebhookFails.Inc, BackoffBase: time.Duration(cfg.Exchange.BackoffBase), BackoffCap: time.Duration(cfg.Exchange.BackoffCap)}
		n.pusher.Init()
	}
	tb, err := readSecret(cfg.Local.TokensFile)
	if err != nil {
		return nil, err
	}
	toks, err := ParseTokens(tb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Local.TokensFile, err)
	}
	if n.tokens, err = server.NewTokens(toks); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Local.TokensFile, err)
	}
	ab, err := readSecret(cfg.Admin.TokensFile)
	if err != nil {
		return nil, err
	}
	atoks, err := ParseTokens(ab)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Admin.TokensFile, err)
	}
	if n.adminTokens, err = server.NewTokens(atoks); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Admin.TokensFile, err)
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

	errLog := log.New(&slogWriter{n.log}, "", 0)
	mk := func(h http.Handler, tlsCfg *tls.Config) *http.Server {
		s := &http.Server{Handler: h, TLSConfig: tlsCfg, ErrorLog: errLog, ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
		n.servers = append(n.servers, s)
		return s
	}
	peerSrv := mk(server.Wrap("peer", n.peerMux(), n.log, n.metrics), registry.APIServerTLSConfig(n.cert))
	localSrv := mk(server.Wrap("local", n.localMux(), n.log, n.metrics), nil)
	adminSrv := mk(server.Wrap("admin", n.adminMux(), n.log, n.metrics), nil)
	healthSrv := mk(n.healthMux(), nil)

	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	serve := func(name string, s *http.Server, tlsOn bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if tlsOn {
				err = s.ServeTLS(n.lns[name], "", "")
			} else {
				err = s.Serve(n.lns[name])
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("listener stopped", slog.String("listener", name), slog.Any("err", err))
			}
		}()
	}
	serve("peer", peerSrv, true)
	serve("local", localSrv, false)
	serve("admin", adminSrv, false)
	serve("health", healthSrv, false)
	wg.Add(1)
	go func() { defer wg.Done(); _ = n.deliverer.Run(wctx) }()
	if n.pusher != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.pusher.Run(wctx) }()
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

// closeAll closes what New opened, in reverse order.
func (n *Node) closeAll() {
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
		n.reg = nil
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			n.log.Error("close store", slog.Any("err", err))
		}
		n.store = nil
	}
}

// pinFor is the peer client's source of server pins: the registry.
func (n *Node) pinFor(nodeID string) (string, bool) {
	nd, ok := n.activeNode(nodeID)
	if !ok {
		return "", false
	}
	return nd.TLSSPKISHA256, true
}

// activeNode is a registered node of an active member: the only kind this
// node sends personal data to. A suspended member's node keeps its queue
// until it is reinstated or the deliveries' lifetime ends.
func (n *Node) activeNode(nodeID string) (registry.Node, bool) {
	nd, ok := n.reg.View().Node(nodeID)
	if !ok {
		return registry.Node{}, false
	}
	if m, ok := n.reg.State().Member(nd.Member); !ok || m.Status != registry.StatusActive {
		return registry.Node{}, false
	}
	return nd, true
}

// nodeOf finds the node of an active member for the outbox (exchange
// DESIGN §3).
func (n *Node) nodeOf(member string) (protocol.Endpoint, bool) {
	st := n.reg.State()
	m, ok := st.Member(member)
	if !ok || m.Status != registry.StatusActive {
		return protocol.Endpoint{}, false
	}
	// A member normally runs one node; with several (a second site, a
	// migration), messages go to the one registered first, so the choice
	// is the same on every sender and does not move when a node is added.
	var best *registry.Node
	for _, nd := range st.Nodes() {
		if nd.Member != member || nd.APIURL == "" {
			continue
		}
		if best == nil || nd.RegisteredAt < best.RegisteredAt {
			best = &nd
		}
	}
	if best == nil {
		return protocol.Endpoint{}, false
	}
	return protocol.Endpoint{NodeID: best.ID, Country: member}, true
}

// errStale is the retryable error of a delivery held back while the
// registry replica is past its staleness bound (registry DESIGN §14).
type errStale struct{ err error }

func (e errStale) Error() string { return "registry replica is stale: " + e.err.Error() }
func (e errStale) Unwrap() error { return e.err }

// send is the deliverer's Sender: the peer's API URL and pin from the
// registry, then node/peer.
func (n *Node) send(ctx context.Context, peerID string, token []byte) ([]byte, error) {
	if err := n.reg.Fresh(); err != nil {
		return nil, errStale{err}
	}
	nd, ok := n.activeNode(peerID)
	if !ok {
		return nil, fmt.Errorf("node %s is not a registered node of an active member: held", peerID)
	}
	return n.peers.Send(ctx, peer.NodeAddr{ID: nd.ID, URL: nd.APIURL}, token)
}

func (n *Node) peerLookup(pin string) (server.Peer, bool) {
	v := n.reg.View()
	nd, ok := v.NodeByPin(pin)
	if !ok {
		return server.Peer{}, false
	}
	st := n.reg.State()
	if m, ok := st.Member(nd.Member); !ok || m.Status != registry.StatusActive {
		return server.Peer{}, false
	}
	return server.Peer{NodeID: nd.ID, Member: nd.Member}, true
}

func (n *Node) exchangeHandlers() *server.Exchange {
	return &server.Exchange{Receiver: n.receiver, Submitter: n.submitter, Outbox: n.store, Inbox: freshInbox{n.store, n.reg},
		MaxMessageBytes: int64(n.cfg.Exchange.MaxMessageBytes), MaxOutboxBytes: 2 * protocol.MaxMessageBytes, Log: n.log, Metrics: n.metrics}
}

// peerMux: the peer API — messages from other members (pinned mTLS
// required) and the registry's API (commands are signed; joins and read
// index check the client key themselves).
func (n *Node) peerMux() http.Handler {
	x := n.exchangeHandlers()
	mux := http.NewServeMux()
	refuse := func(w http.ResponseWriter, r *http.Request, err error) {
		server.WriteProblem(w, r, n.log, &protocol.Error{Code: protocol.CodeNodePinMismatch, Detail: "the TLS client key is not registered for a node of an active member", Err: err})
	}
	mux.Handle("POST /v1/messages", server.WithPeer(n.peerLookup, http.HandlerFunc(n.afterPost(x.PostMessage)), refuse))
	api, err := registry.NewAPI(registry.APIConfig{Backend: n.reg, Logger: n.log.With("part", "registry-api")})
	if err == nil {
		mux.Handle("/v1/registry/", api)
	}
	mux.HandleFunc("/", n.notFound)
	return mux
}

// afterPost wakes the webhook pusher after an accepted message.
func (n *Node) afterPost(h http.HandlerFunc) http.HandlerFunc {
	if n.pusher == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		n.pusher.Notify()
	}
}

func (n *Node) unauthorized(w http.ResponseWriter, r *http.Request) {
	server.WriteProblem(w, r, n.log, &protocol.Error{Code: protocol.CodeUnauthorized, Detail: "a valid bearer token is required"})
}

func (n *Node) notFound(w http.ResponseWriter, r *http.Request) {
	server.WriteProblem(w, r, n.log, protocol.Errorf(protocol.CodeNotFound, "no endpoint %s %s", r.Method, r.URL.Path))
}

// localMux: the national system's API, bearer tokens.
func (n *Node) localMux() http.Handler {
	x := n.exchangeHandlers()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/outbox", x.PostOutbox)
	mux.HandleFunc("GET /v1/outbox/{id}", x.GetOutbox)
	mux.HandleFunc("GET /v1/inbox", x.GetInbox)
	mux.HandleFunc("POST /v1/inbox/ack", x.PostAck)
	mux.HandleFunc("/", n.notFound)
	return server.RequireBearer(n.tokens, mux, n.unauthorized)
}

// adminMux: operations — a consistent backup while running, the audit
// chain's head. The operators' bearer tokens, not the national system's.
func (n *Node) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/admin/backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="node.db"`)
		if _, err := n.store.Backup(r.Context(), w); err != nil {
			n.log.Error("backup failed", slog.Any("err", err))
			panic(http.ErrAbortHandler) // the client sees a truncated body, never a backup that looks whole
		}
	})
	mux.HandleFunc("GET /v1/admin/audit", func(w http.ResponseWriter, r *http.Request) {
		head, count, err := n.store.VerifyAudit(r.Context())
		if err != nil {
			server.WriteProblem(w, r, n.log, err)
			return
		}
		server.WriteJSON(w, http.StatusOK, "application/json", map[string]any{"head": fmt.Sprintf("%x", head), "entries": count, "verified": true})
	})
	mux.HandleFunc("/", n.notFound)
	return server.RequireBearer(n.adminTokens, mux, n.unauthorized)
}

// healthMux: liveness, readiness and metrics, no authentication.
func (n *Node) healthMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		if err := n.store.Failed(); err != nil {
			http.Error(w, "store failed: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := n.reg.Status()
		body := map[string]any{"node": n.cfg.NodeID, "registry": map[string]any{"appliedIndex": st.AppliedIndex, "leader": st.Leader.ID}}
		status := http.StatusOK
		if err := n.reg.Fresh(); err != nil {
			body["registry"].(map[string]any)["stale"] = err.Error()
			status = http.StatusServiceUnavailable
		}
		if err := n.store.Failed(); err != nil {
			body["store"] = err.Error()
			status = http.StatusServiceUnavailable
		}
		select {
		case <-n.ready:
		default:
			status = http.StatusServiceUnavailable
		}
		server.WriteJSON(w, status, "application/json", body)
	})
	mux.Handle("GET /metrics", n.metrics.Handler())
	return mux
}

// gauges refreshes the gauges from the store and the registry.
func (n *Node) gauges(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if c, err := n.store.Counts(ctx); err == nil {
			n.metrics.Pending.Set(float64(c.Queued))
			n.metrics.Dead.Set(float64(c.Dead))
		}
		st := n.reg.Status()
		n.metrics.RegistryIdx.Set(float64(st.AppliedIndex))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// liveKeys is the trust view of the moment: every lookup loads the
// registry's current view (lock-free), so a revocation applies to the next
// message.
type liveKeys struct{ reg *registry.Registry }

func (k liveKeys) LookupKey(kid string) (jws.Key, bool)  { return k.reg.View().LookupKey(kid) }
func (k liveKeys) ValidAt(kid string, t time.Time) error { return k.reg.View().ValidAt(kid, t) }

// freshInbox fails closed: received events are released to the national
// system only while the registry replica is fresh (registry DESIGN §14).
type freshInbox struct {
	*store.Store
	reg *registry.Registry
}

func (f freshInbox) InboxAfter(ctx context.Context, consumer string, after uint64, limit int) ([]store.InboundRecord, uint64, error) {
	if err := f.reg.Fresh(); err != nil {
		return nil, 0, &protocol.Error{Code: protocol.CodeRegistryStale, Detail: "the registry replica is past its staleness bound; received events are held until it is in sync", Err: err}
	}
	return f.Store.InboxAfter(ctx, consumer, after, limit)
}

// outboxAdapter fits the store to the deliverer's Outbox.
type outboxAdapter struct{ s *store.Store }

func (a outboxAdapter) QueueHead(ctx context.Context, peer string) (*exchange.Delivery, error) {
	d, err := a.s.QueueHead(ctx, peer)
	if err != nil || d == nil {
		return nil, err
	}
	return &exchange.Delivery{Key: uint64(d.Key), Recipient: d.Recipient, RecipientNodeID: d.RecipientNodeID, MessageID: d.MessageID,
		JWS: d.JWS, Digest: d.Digest, CreatedAt: d.CreatedAt, Attempts: d.Attempts, LastError: d.LastError, NextAttemptAt: d.NextAttemptAt}, nil
}

func (a outboxAdapter) RecordAttempt(ctx context.Context, key uint64, at exchange.Attempt) error {
	return a.s.RecordAttempt(ctx, store.DeliveryKey(key), store.Attempt{At: at.At, Err: at.Err, NextAttemptAt: at.NextAttemptAt})
}

func (a outboxAdapter) MarkDelivered(ctx context.Context, key uint64, receipt []byte, at time.Time) error {
	return a.s.MarkDelivered(ctx, store.DeliveryKey(key), receipt, at)
}

func (a outboxAdapter) MarkDead(ctx context.Context, key uint64, reason string, at time.Time) error {
	return a.s.MarkDead(ctx, store.DeliveryKey(key), reason, at)
}

func (a outboxAdapter) PendingPeers(ctx context.Context) ([]string, error) {
	return a.s.PendingPeers(ctx)
}

// deliveryMetrics turns the deliverer's events into Prometheus instruments.
type deliveryMetrics struct{ m *server.Metrics }

func (d deliveryMetrics) Attempt(peer, outcome string) { d.m.Attempts.WithLabelValues(outcome).Inc() }
func (d deliveryMetrics) Delivered(peer string)        { d.m.Delivered.Inc() }
func (d deliveryMetrics) DeadLettered(peer, reason string) {
	d.m.DeadLetters.Inc()
}
func (d deliveryMetrics) Breaker(peer string, s exchange.BreakerState) {
	v := 0.0
	if s == exchange.BreakerOpen {
		v = 1
	}
	d.m.BreakerOpen.WithLabelValues(peer).Set(v)
}

// readSecret reads a secret file, refusing one that others can read.
func readSecret(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %o); chmod 600 it", ErrConfig, path, st.Mode().Perm())
	}
	if st.Size() > 1<<20 {
		return nil, fmt.Errorf("%w: %s is larger than 1 MiB", ErrConfig, path)
	}
	return os.ReadFile(path)
}

// ParseTokens reads a tokens file (Local.TokensFile, Admin.TokensFile):
// "name token" lines; blank lines and lines starting with # are skipped.
func ParseTokens(b []byte) (map[string]string, error) {
	out := map[string]string{}
	err := tokenLines(b, func(line int, f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("line %d: want \"name token\"", line)
		}
		if _, dup := out[f[0]]; dup {
			return fmt.Errorf("line %d: token name %q twice", line, f[0])
		}
		out[f[0]] = f[1]
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no tokens")
	}
	return out, nil
}

// FirstToken returns the token of the first line of a tokens file, which
// may also hold the token alone: what a client (crvsx send, inbox, node
// backup) presents.
func FirstToken(b []byte) (string, error) {
	var tok string
	errFound := errors.New("found")
	err := tokenLines(b, func(_ int, f []string) error {
		tok = f[len(f)-1]
		if len(f) > 2 {
			return errors.New("want \"name token\" or the token alone")
		}
		return errFound
	})
	if err == errFound {
		return tok, nil
	}
	if err == nil {
		err = errors.New("no token (\"name token\" lines, or the token alone)")
	}
	return "", err
}

// tokenLines calls f with the fields of each line that is not blank or a
// comment, stopping at its first error.
func tokenLines(b []byte, f func(line int, fields []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := f(line, strings.Fields(s)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// slogWriter sends net/http's error log to slog.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http server", slog.String("msg", strings.TrimSpace(string(p))))
	return len(p), nil
}

// mustJoin: a node that is not a founding node of the genesis joins the
// registry cluster through registry.join (registry DESIGN §13).
func (n *Node) mustJoin() bool {
	for _, nd := range n.genesis.Document().Nodes {
		if nd.ID == n.cfg.NodeID {
			return false
		}
	}
	return len(n.cfg.Registry.Join) > 0
}

// joinLoop asks the configured nodes, in turn, to add this node as a
// non-voter, until this node is in the cluster's configuration or ctx ends.
func (n *Node) joinLoop(ctx context.Context) {
	jc := &registry.JoinClient{NodeID: n.cfg.NodeID, Certificate: n.cert, View: n.view, Timeout: 10 * time.Second}
	wait := time.Second
	for attempt := 0; ; attempt++ {
		if n.reg.Status().Suffrage != "" {
			n.log.Info("registry: this node is in the cluster", slog.String("suffrage", n.reg.Status().Suffrage))
			return
		}
		url := n.cfg.Registry.Join[attempt%len(n.cfg.Registry.Join)]
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		j, err := jc.Join(jctx, url)
		cancel()
		if err == nil {
			n.log.Info("registry: joined", slog.String("via", url), slog.String("suffrage", j.Suffrage))
			return
		}
		n.log.Warn("registry: join failed; retrying", slog.String("via", url), slog.Duration("in", wait), slog.Any("err", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}
