package pintls

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// Budget bounds what clients can hold on a TLS listener before and after
// they authenticate (node/server's peer listener; SPEC §7 and the
// hardening issue: an unauthenticated host must not delay registered
// peers).
//
// A connection first costs a pending slot while its handshake runs, at
// most HandshakeTimeout. A source address holds at most PerSource pending
// slots (more are closed at once); when all Pending slots are taken, the
// oldest pending handshake is closed to make room, so a stream of idle
// connections cannot keep a fresh one from being heard. A connection that
// completed the handshake moves to the budget of its Class: Peers for a
// client key that is a registered node's, Requesters for one that is a
// registered active requester's (SPEC §11.1: an organisation that sends
// status queries), Others for the rest (operators without a key,
// strangers). A full budget closes the new connection; a class's budget
// is never spent by another class.
type Budget struct {
	HandshakeTimeout time.Duration // default 3 s
	PerSource        int           // pending handshakes per source IP; default 64
	Pending          int           // pending handshakes in all; default 256
	Peers            int           // authenticated node connections; default 768
	Requesters       int           // authenticated requester connections; default 256
	Others           int           // other established connections; default 256
}

// Class is the budget an established connection counts against, decided
// from its client key's pin by the listener's classify func.
type Class int

// The classes of Budget.
const (
	ClassOther     Class = iota // no key, or a key the registry does not know
	ClassPeer                   // a registered node of an active member
	ClassRequester              // a registered active requester
)

func (b Budget) withDefaults() Budget {
	if b.HandshakeTimeout <= 0 {
		b.HandshakeTimeout = 3 * time.Second
	}
	if b.PerSource <= 0 {
		b.PerSource = 64
	}
	if b.Pending <= 0 {
		b.Pending = 256
	}
	if b.Peers <= 0 {
		b.Peers = 768
	}
	if b.Requesters <= 0 {
		b.Requesters = 256
	}
	if b.Others <= 0 {
		b.Others = 256
	}
	return b
}

// limit is the budget of class c.
func (b Budget) limit(c Class) int {
	switch c {
	case ClassPeer:
		return b.Peers
	case ClassRequester:
		return b.Requesters
	}
	return b.Others
}

// Refusal reasons reported to Listener's refused callback.
const (
	RefusedPerSource = "per-source"       // the source has PerSource handshakes pending
	RefusedEvicted   = "evicted"          // the oldest pending handshake, closed for a new one
	RefusedHandshake = "handshake"        // the handshake failed or timed out
	RefusedPeers     = "peer-budget"      // Peers connections are established
	RefusedRequester = "requester-budget" // Requesters connections are established
	RefusedOthers    = "unauthenticated"  // Others connections are established
)

// NewListener returns a listener that does the TLS handshake of every
// connection itself, concurrently and within the budget, and returns only
// connections that completed it (as *tls.Conn, which net/http serves as
// TLS). isPeer says whether a client key's pin (protocol.SPKIPin)
// belongs to a registered node (ClassPeer; every other key is ClassOther);
// refused (may be nil) is told each refusal.
func NewListener(ln net.Listener, cfg *tls.Config, b Budget, isPeer func(pin string) bool, refused func(reason string)) net.Listener {
	classify := func(string) Class { return ClassOther }
	if isPeer != nil {
		classify = func(pin string) Class {
			if isPeer(pin) {
				return ClassPeer
			}
			return ClassOther
		}
	}
	return NewClassListener(ln, cfg, b, classify, refused)
}

// NewClassListener is NewListener with every class of Budget: classify
// returns the Class of a client key's pin (it is not called for a client
// without a key, which is ClassOther).
func NewClassListener(ln net.Listener, cfg *tls.Config, b Budget, classify func(pin string) Class, refused func(reason string)) net.Listener {
	b = b.withDefaults()
	if refused == nil {
		refused = func(string) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &budgetListener{Listener: ln, cfg: cfg, b: b, classify: classify, refused: refused,
		ready: make(chan net.Conn), ctx: ctx, cancel: cancel,
		perSource: map[string]int{}, pending: list.New()}
	go l.acceptLoop()
	return l
}

type budgetListener struct {
	net.Listener
	cfg      *tls.Config
	b        Budget
	classify func(string) Class
	refused  func(string)
	ready    chan net.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	err      error // the accept error that ended the loop

	mu          sync.Mutex
	perSource   map[string]int
	pending     *list.List // *pendingConn, oldest first
	established [3]int     // by Class
}

type pendingConn struct {
	raw    *slotConn
	source string
	elem   *list.Element
}

func (l *budgetListener) acceptLoop() {
	defer close(l.ready)
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if ok := asNetError(err, &ne); ok && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			return
		}
		if p := l.admit(raw); p != nil {
			go l.handshake(p)
		}
	}
}

// admit takes a pending slot for raw, or closes it.
func (l *budgetListener) admit(raw net.Conn) *pendingConn {
	source := hostOf(raw.RemoteAddr())
	l.mu.Lock()
	if l.perSource[source] >= l.b.PerSource {
		l.mu.Unlock()
		raw.Close()
		l.refused(RefusedPerSource)
		return nil
	}
	var evicted *pendingConn
	if l.pending.Len() >= l.b.Pending {
		evicted = l.pending.Front().Value.(*pendingConn)
		l.dropPendingLocked(evicted)
	}
	p := &pendingConn{raw: &slotConn{Conn: raw}, source: source}
	p.elem = l.pending.PushBack(p)
	l.perSource[source]++
	l.mu.Unlock()
	if evicted != nil {
		evicted.raw.Close()
		l.refused(RefusedEvicted)
	}
	return p
}

func (l *budgetListener) dropPendingLocked(p *pendingConn) {
	if p.elem == nil {
		return
	}
	l.pending.Remove(p.elem)
	p.elem = nil
	if l.perSource[p.source]--; l.perSource[p.source] <= 0 {
		delete(l.perSource, p.source)
	}
}

func (l *budgetListener) handshake(p *pendingConn) {
	tc := tls.Server(p.raw, l.cfg)
	_ = p.raw.SetDeadline(time.Now().Add(l.b.HandshakeTimeout))
	ctx, cancel := context.WithTimeout(l.ctx, l.b.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	l.mu.Lock()
	stillPending := p.elem != nil
	l.dropPendingLocked(p)
	l.mu.Unlock()
	if !stillPending { // evicted while it ran
		tc.Close()
		return
	}
	if err != nil {
		tc.Close()
		l.refused(RefusedHandshake)
		return
	}
	_ = p.raw.SetDeadline(time.Time{})
	class := ClassOther
	if pin := PeerPin(tc.ConnectionState()); pin != "" && l.classify != nil {
		if c := l.classify(pin); c == ClassPeer || c == ClassRequester {
			class = c
		}
	}
	l.mu.Lock()
	if l.established[class] >= l.b.limit(class) {
		l.mu.Unlock()
		tc.Close()
		l.refused(refusedReason[class])
		return
	}
	l.established[class]++
	l.mu.Unlock()
	p.raw.setRelease(func() {
		l.mu.Lock()
		l.established[class]--
		l.mu.Unlock()
	})
	select {
	case l.ready <- tc:
	case <-l.ctx.Done():
		tc.Close()
	}
}

// refusedReason is the refusal reason of a full budget, by Class.
var refusedReason = [3]string{ClassOther: RefusedOthers, ClassPeer: RefusedPeers, ClassRequester: RefusedRequester}

// Accept returns the next connection that completed its handshake within
// the budget.
func (l *budgetListener) Accept() (net.Conn, error) {
	select {
	case c, ok := <-l.ready:
		if ok {
			return c, nil
		}
	case <-l.ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	return nil, net.ErrClosed
}

// Close stops accepting and closes every pending handshake.
func (l *budgetListener) Close() error {
	l.cancel()
	err := l.Listener.Close()
	l.mu.Lock()
	for e := l.pending.Front(); e != nil; e = e.Next() {
		e.Value.(*pendingConn).raw.Close()
	}
	l.mu.Unlock()
	return err
}

// slotConn is the TCP connection under a *tls.Conn (what net/http needs
// to serve TLS and fill in Request.TLS); closing it — net/http closes the
// *tls.Conn, which closes this — returns the connection's slot once.
type slotConn struct {
	net.Conn
	mu      sync.Mutex
	closed  bool
	release func()
}

func (c *slotConn) setRelease(f func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		f()
		return
	}
	c.release = f
	c.mu.Unlock()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	f := c.release
	c.release, c.closed = nil, true
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return err
}

func asNetError(err error, target *net.Error) bool { return errors.As(err, target) }

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
