package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// The mTLS transport (DESIGN.md §13): every connection between nodes is
// TLS 1.3 with both sides presenting a self-signed certificate; there is no
// CA. A peer is accepted only if the SHA-256 of its SubjectPublicKeyInfo is
// the pin of a node in the *current* trust view whose member is active
// (trust.View.CheckPeer), checked on every handshake — so a key removed or
// changed in the registry is refused on the next connection, and
// StreamLayer.Revalidate closes the connections already open.

// ALPN protocol names. The raft protocol name carries the genesis hash, so
// that two networks never talk raft to each other even if an operator
// reused a TLS key (DESIGN.md §13: a peer with another pin is refused).
const (
	alpnRaftPrefix = "crvsx-raft/1+"
	// DefaultHandshakeTimeout bounds a TLS handshake (DESIGN.md §13: WAN
	// connection timeout).
	DefaultHandshakeTimeout = 10 * time.Second
	// maxPendingHandshakes bounds the inbound handshakes in progress, so a
	// flood of idle TCP connections cannot grow goroutines without bound.
	maxPendingHandshakes = 64
	// acceptByte is what the accepting side writes once it has accepted
	// the dialer's key.
	acceptByte = 0x01
)

var errNoAccept = errors.New("no accept byte")

// ErrNotVoter: an inbound raft connection from a node the registry does
// not name a voter (StreamConfig.AcceptFromNonvoters).
var ErrNotVoter = errors.New("registry: raft connections are opened by voters only")

// ViewFunc returns the current trust view; it must be lock-free (an
// atomic.Pointer Load) because it runs inside every TLS handshake. It may
// return nil before the first view is published: every peer is refused.
type ViewFunc func() *trust.View

// PeerCheck says which node a verified peer must be. It is called with the
// node registered for the peer's key, after trust.View.CheckPeer passed.
type PeerCheck func(n trust.Node) error

// verifyPeer is the pin check of one TLS connection: exactly the leaf
// certificate's SPKI counts (the certificate itself, its validity and
// issuer are irrelevant: TLS 1.3's CertificateVerify proves possession of
// the key). It returns the node of the peer.
func verifyPeer(view ViewFunc, cs tls.ConnectionState, expect PeerCheck) (trust.Node, error) {
	pin, err := pintls.CheckPeerKey(cs)
	if err != nil {
		if len(cs.PeerCertificates) == 0 {
			return trust.Node{}, trust.Rejectf(trust.ReasonNodeUnknown, "the peer presented no certificate")
		}
		return trust.Node{}, trust.Rejectf(trust.ReasonNodePinMismatch, "%v", err)
	}
	v := view()
	if v == nil {
		return trust.Node{}, trust.Rejectf(trust.ReasonNodeUnknown, "no trust view yet")
	}
	n, ok := v.NodeByPin(pin)
	if !ok {
		return trust.Node{}, trust.Rejectf(trust.ReasonNodePinMismatch, "the TLS key %s is not pinned for any registered node", pintls.ShortPin(pin))
	}
	if err := v.CheckPeer(n.ID, cs.PeerCertificates[0].RawSubjectPublicKeyInfo); err != nil {
		return trust.Node{}, err
	}
	if expect != nil {
		if err := expect(n); err != nil {
			return trust.Node{}, err
		}
	}
	return n, nil
}

// expectRaftAddress requires the peer to be the node registered at addr:
// the dialer knows whom it called.
func expectRaftAddress(addr string) PeerCheck {
	return func(n trust.Node) error {
		if n.RaftAddress != addr {
			return trust.Rejectf(trust.ReasonNodePinMismatch, "the peer at %s presented the key of node %s, registered at %s", addr, n.ID, n.RaftAddress)
		}
		return nil
	}
}

// StreamConfig configures a StreamLayer.
type StreamConfig struct {
	// Certificate is this node's TLS key with its self-signed certificate
	// (pintls.Generate). Its SPKI must be the node's registered pin.
	Certificate tls.Certificate
	// View returns the current trust view (lock-free). Required.
	View ViewFunc
	// GenesisHash is the network's genesis SHA-256 (hex); peers must
	// present the same in ALPN. Required.
	GenesisHash string
	// Advertise is the node's registered raft address ("" = the
	// listener's address).
	Advertise string
	// HandshakeTimeout bounds the TLS handshake of inbound and outbound
	// connections; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// AcceptFromNonvoters turns off the voters-only rule for inbound
	// connections. By default the layer accepts a raft connection only
	// from a node the registry names a voter: in hashicorp/raft only a
	// leader or a candidate opens connections (non-voters never campaign),
	// so a compromised non-voter — any registered node of an active member
	// — cannot speak raft to others (a forged AppendEntries of a fake
	// leader). Outbound connections go to voters and non-voters alike.
	AcceptFromNonvoters bool
	// RevalidateInterval is how often the layer looks whether a new
	// trust view was published (a pointer comparison) and, if so, closes
	// the open connections of peers it no longer trusts (Revalidate). 0
	// means DefaultRevalidateInterval; negative turns it off (call
	// Revalidate yourself).
	RevalidateInterval time.Duration
	// Logger receives refusals (warn) and is never nil after
	// NewStreamLayer; nil discards.
	Logger *slog.Logger
}

// DefaultRevalidateInterval bounds how long a connection of a peer whose
// key was removed or changed, or whose member was suspended, stays open.
const DefaultRevalidateInterval = 250 * time.Millisecond

// StreamLayer is a raft.StreamLayer over pinned mutual TLS 1.3. It is safe
// for concurrent use.
type StreamLayer struct {
	ln        net.Listener
	cfg       StreamConfig
	advertise net.Addr
	alpn      string
	accepted  chan net.Conn
	closed    chan struct{}
	ctx       context.Context // cancelled by Close: ends handshakes in progress
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
	sem       chan struct{}

	mu    sync.Mutex
	conns map[*tls.Conn]bool // live connections → inbound
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer wraps ln (a TCP listener) as a raft.StreamLayer. It
// starts a goroutine that accepts and handshakes; Close stops it.
func NewStreamLayer(ln net.Listener, cfg StreamConfig) (*StreamLayer, error) {
	if cfg.View == nil {
		return nil, errors.New("registry: StreamConfig.View is required")
	}
	if !protocol.IsSHA256Hex(cfg.GenesisHash) {
		return nil, errors.New("registry: StreamConfig.GenesisHash must be the genesis SHA-256 in hex")
	}
	if len(cfg.Certificate.Certificate) == 0 || cfg.Certificate.PrivateKey == nil {
		return nil, errors.New("registry: StreamConfig.Certificate is required")
	}
	leaf, err := x509.ParseCertificate(cfg.Certificate.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("registry: node certificate: %w", err)
	}
	if err := pintls.CheckKeyType(leaf.PublicKey); err != nil {
		return nil, fmt.Errorf("registry: node certificate: %w", err)
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &StreamLayer{
		ln: ln, cfg: cfg, advertise: ln.Addr(), alpn: alpnRaftPrefix + cfg.GenesisHash,
		accepted: make(chan net.Conn), closed: make(chan struct{}),
		sem: make(chan struct{}, maxPendingHandshakes), conns: map[*tls.Conn]bool{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", cfg.Advertise)
		if err != nil {
			return nil, fmt.Errorf("registry: advertise address: %w", err)
		}
		s.advertise = advertiseAddr{a, cfg.Advertise}
	}
	if cfg.RevalidateInterval == 0 {
		cfg.RevalidateInterval = DefaultRevalidateInterval
	}
	s.wg.Add(1)
	go s.acceptLoop()
	if cfg.RevalidateInterval > 0 {
		s.wg.Add(1)
		go s.watchView(cfg.RevalidateInterval)
	}
	return s, nil
}

// watchView calls Revalidate whenever a new trust view is published.
func (s *StreamLayer) watchView(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	last := s.cfg.View()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			if v := s.cfg.View(); v != last {
				last = v
				s.Revalidate()
			}
		}
	}
}

// advertiseAddr keeps the registered spelling of the raft address (a host
// name stays a host name): raft uses Addr().String() as the local address.
type advertiseAddr struct {
	*net.TCPAddr
	s string
}

func (a advertiseAddr) String() string { return a.s }

func (s *StreamLayer) acceptLoop() {
	defer s.wg.Done()
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				go s.Close() // the listener was closed under us; Close waits for this loop
				return
			}
			s.cfg.Logger.Warn("raft transport: accept", slog.Any("err", err))
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.cfg.Logger.Warn("raft transport: too many handshakes in progress; connection dropped", slog.String("remote", raw.RemoteAddr().String()))
			raw.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.handshakeInbound(raw)
		}()
	}
}

func (s *StreamLayer) handshakeInbound(raw net.Conn) {
	var pin string
	conf := pintls.MutualConfig(s.cfg.Certificate, s.alpn, func(cs tls.ConnectionState) error {
		return s.verify(cs, raw.RemoteAddr().String(), s.inboundCheck(), &pin)
	})
	c := tls.Server(raw, conf)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		s.logRefusal("inbound", raw.RemoteAddr().String(), err)
		c.Close()
		return
	}
	// > TLS 1.3 completes the client's handshake before the server has
	// > checked the client's certificate: the accept byte tells the dialer
	// > it was accepted, so that a refused dialer fails in Dial, not later.
	c.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if _, err := c.Write([]byte{acceptByte}); err != nil {
		c.Close()
		return
	}
	c.SetWriteDeadline(time.Time{})
	if !s.track(c, true) {
		c.Close()
		return
	}
	select {
	case s.accepted <- &trackedConn{Conn: c, s: s, tc: c}:
	case <-s.closed:
		c.Close()
	}
}

// inboundCheck is who may open a raft connection to this node.
func (s *StreamLayer) inboundCheck() PeerCheck {
	if s.cfg.AcceptFromNonvoters {
		return nil
	}
	return func(n trust.Node) error {
		if n.Role != trust.RoleVoter {
			return fmt.Errorf("node %s is a %s: %w", n.ID, n.Role, ErrNotVoter)
		}
		return nil
	}
}

// verify runs the pin check and the ALPN check of one handshake.
func (s *StreamLayer) verify(cs tls.ConnectionState, remote string, expect PeerCheck, pin *string) error {
	*pin = pintls.PeerPin(cs)
	if cs.NegotiatedProtocol != s.alpn {
		return &pintls.RefusedError{Addr: remote, Pin: *pin, Err: trust.Rejectf(trust.ReasonNodeUnknown, "the peer does not speak raft for genesis %s", pintls.ShortPin(s.cfg.GenesisHash))}
	}
	if _, err := verifyPeer(s.cfg.View, cs, expect); err != nil {
		return &pintls.RefusedError{Addr: remote, Pin: *pin, Err: err}
	}
	return nil
}

func (s *StreamLayer) logRefusal(dir, remote string, err error) {
	select {
	case <-s.closed:
		return
	default:
	}
	s.cfg.Logger.Warn("raft transport: peer refused", slog.String("direction", dir), slog.String("remote", remote),
		slog.String("reason", string(trust.ReasonOf(err))), slog.Any("err", err))
}

// Accept waits for the next inbound connection that passed the handshake
// and the pin check. It returns an error only once the layer is closed.
func (s *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.accepted:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

// Dial connects to the node registered at address, refusing it unless the
// key it presents is pinned for the node registered at that address.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	select {
	case <-s.closed:
		return nil, net.ErrClosed
	default:
	}
	if timeout <= 0 || timeout > s.cfg.HandshakeTimeout {
		timeout = s.cfg.HandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	var pin string
	addr := string(address)
	conf := pintls.MutualConfig(s.cfg.Certificate, s.alpn, func(cs tls.ConnectionState) error {
		return s.verify(cs, addr, expectRaftAddress(addr), &pin)
	})
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: conf}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		s.logRefusal("outbound", addr, err)
		return nil, fmt.Errorf("registry: dial %s: %w", addr, err)
	}
	c := nc.(*tls.Conn)
	dl, _ := ctx.Deadline()
	c.SetReadDeadline(dl)
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != acceptByte {
		c.Close()
		err = &pintls.RefusedError{Addr: addr, Pin: pin, Err: fmt.Errorf("the peer refused this node's key or did not confirm the connection: %w", errors.Join(err, errNoAccept))}
		s.logRefusal("outbound", addr, err)
		return nil, fmt.Errorf("registry: dial %s: %w", addr, err)
	}
	c.SetReadDeadline(time.Time{})
	if !s.track(c, false) {
		c.Close()
		return nil, net.ErrClosed
	}
	return &trackedConn{Conn: c, s: s, tc: c}, nil
}

// Addr is the advertised raft address.
func (s *StreamLayer) Addr() net.Addr { return s.advertise }

// Close stops accepting, closes the listener and every connection of this
// layer, and waits for the handshakes in progress.
func (s *StreamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.cancel()
		err = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.conns = map[*tls.Conn]bool{}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return err
}

func (s *StreamLayer) track(c *tls.Conn, inbound bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return false
	default:
	}
	s.conns[c] = inbound
	return true
}

func (s *StreamLayer) untrack(c *tls.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Revalidate re-checks every open connection against the current trust
// view and closes those whose peer no longer passes (key removed or
// changed, node removed, member suspended, an inbound peer demoted). The shell calls it after
// publishing a view; it returns the number of connections closed.
func (s *StreamLayer) Revalidate() int {
	v := s.cfg.View()
	s.mu.Lock()
	var bad []*tls.Conn
	inboundOK := s.inboundCheck()
	view := func() *trust.View { return v }
	for c, inbound := range s.conns {
		var expect PeerCheck
		if inbound {
			expect = inboundOK
		}
		if _, err := verifyPeer(view, c.ConnectionState(), expect); err != nil {
			bad = append(bad, c)
			delete(s.conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range bad {
		s.cfg.Logger.Warn("raft transport: closing connection of a peer no longer trusted", slog.String("remote", c.RemoteAddr().String()))
		c.Close()
	}
	return len(bad)
}

// trackedConn forgets the connection when raft closes it.
type trackedConn struct {
	net.Conn
	s    *StreamLayer
	tc   *tls.Conn
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.s.untrack(c.tc) })
	return c.Conn.Close()
}

// NewNetworkTransport builds raft's NetworkTransport on the stream layer
// (DESIGN.md §13: connection timeout 10 s). logger is raft's hclog
// adapter, built where raft is built; nil discards.
func (s *StreamLayer) NewNetworkTransport(maxPool int, timeout time.Duration, logger hclog.Logger) *raft.NetworkTransport {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: s, MaxPool: maxPool, Timeout: timeout, Logger: logger})
}
