package pintls

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// serveEcho serves ln: each accepted connection gets one byte echoed, then
// is held open until the client closes it (or the test ends).
func serveEcho(t *testing.T, ln net.Listener) {
	t.Helper()
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			go func() {
				b := make([]byte, 1)
				if _, err := io.ReadFull(c, b); err == nil {
					c.Write(b)
				}
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
}

// dialFrom opens a TCP connection from a loopback source address.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	return c
}

// roundTrip does a TLS handshake and one echoed byte within d.
func roundTrip(c net.Conn, cfg *tls.Config, d time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(d))
	tc := tls.Client(c, cfg)
	if _, err := tc.Write([]byte{7}); err != nil {
		return err
	}
	_, err := io.ReadFull(tc, make([]byte, 1))
	return err
}

func newBudgetListener(t *testing.T, b Budget, peerPin string, refused func(string)) (net.Listener, tls.Certificate) {
	t.Helper()
	srv := mustKey(t, "TJ-SRV", "ES256")
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, ServerConfig(srv), b, func(pin string) bool { return pin == peerPin }, refused)
	t.Cleanup(func() { ln.Close() })
	serveEcho(t, ln)
	return ln, srv
}

// TestBudgetPerSource: idle connections from one source take at most
// PerSource pending slots; a peer from another source is served at once,
// and an idle connection is closed after the handshake timeout.
func TestBudgetPerSource(t *testing.T) {
	cli := mustKey(t, "TR-CLI", "ES256")
	var mu sync.Mutex
	reasons := map[string]int{}
	ln, srv := newBudgetListener(t, Budget{PerSource: 4, HandshakeTimeout: 300 * time.Millisecond}, mustPin(t, cli), func(r string) {
		mu.Lock()
		reasons[r]++
		mu.Unlock()
	})
	addr := ln.Addr().String()
	var idle []net.Conn
	for range 20 {
		idle = append(idle, dialFrom(t, "127.0.0.2", addr))
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	start := time.Now()
	if err := roundTrip(dialFrom(t, "127.0.0.1", addr), ClientConfig(&cli, ExpectPin(mustPin(t, srv))), time.Second); err != nil {
		t.Fatalf("the peer was not served while another source flooded: %v", err)
	}
	t.Logf("peer served in %s with 20 idle connections from another source", time.Since(start).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if reasons[RefusedPerSource] < 16 || reasons[RefusedHandshake] < 4 {
		t.Fatalf("refusals %v: want ≥16 per-source and the 4 idle ones timed out", reasons)
	}
}

// TestBudgetEvictsTheOldestPending: with every pending slot held by idle
// connections from many sources, a new connection still gets its
// handshake (the oldest pending one is closed for it).
func TestBudgetEvictsTheOldestPending(t *testing.T) {
	cli := mustKey(t, "TR-CLI", "ES256")
	ln, srv := newBudgetListener(t, Budget{PerSource: 2, Pending: 8, HandshakeTimeout: 10 * time.Second}, mustPin(t, cli), nil)
	addr := ln.Addr().String()
	var idle []net.Conn
	for i := range 16 {
		idle = append(idle, dialFrom(t, net.IPv4(127, 0, 1, byte(2+i/2)).String(), addr))
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if err := roundTrip(dialFrom(t, "127.0.0.1", addr), ClientConfig(&cli, ExpectPin(mustPin(t, srv))), time.Second); err != nil {
		t.Fatalf("a new connection was not heard with every pending slot idle: %v", err)
	}
}

// TestBudgetPeersKeepTheirCapacity: connections without a registered key
// fill their own budget; a registered peer is still served.
func TestBudgetPeersKeepTheirCapacity(t *testing.T) {
	cli, other := mustKey(t, "TR-CLI", "ES256"), mustKey(t, "XX-STRANGER", "ES256")
	ln, srv := newBudgetListener(t, Budget{Others: 3, Peers: 2}, mustPin(t, cli), nil)
	addr, pin := ln.Addr().String(), mustPin(t, srv)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	served := 0
	for range 6 {
		c := dialFrom(t, "127.0.0.1", addr)
		conns = append(conns, c)
		if roundTrip(c, ClientConfig(&other, ExpectPin(pin)), time.Second) == nil {
			served++
		}
	}
	if served != 3 {
		t.Fatalf("%d strangers served, want the Others budget of 3", served)
	}
	for i := range 2 {
		c := dialFrom(t, "127.0.0.1", addr)
		conns = append(conns, c)
		if err := roundTrip(c, ClientConfig(&cli, ExpectPin(pin)), time.Second); err != nil {
			t.Fatalf("peer connection %d refused with the strangers' budget full: %v", i, err)
		}
	}
	c := dialFrom(t, "127.0.0.1", addr)
	conns = append(conns, c)
	if roundTrip(c, ClientConfig(&cli, ExpectPin(pin)), time.Second) == nil {
		t.Fatal("a third peer connection went past the Peers budget of 2")
	}
	conns[0].Close() // a stranger leaves: its slot returns
	time.Sleep(50 * time.Millisecond)
	c = dialFrom(t, "127.0.0.1", addr)
	conns = append(conns, c)
	if err := roundTrip(c, ClientConfig(&other, ExpectPin(pin)), time.Second); err != nil {
		t.Fatalf("a closed connection's slot did not return: %v", err)
	}
}

// TestBudgetRequestersHaveTheirOwnClass: registered requesters (SPEC
// §11.1) are budgeted apart from registered nodes and from strangers: a
// full requesters' budget refuses the next requester ("requester-budget")
// but neither a peer nor a stranger, and a full strangers' budget does not
// refuse a requester.
func TestBudgetRequestersHaveTheirOwnClass(t *testing.T) {
	peer, req, other := mustKey(t, "TR-CLI", "ES256"), mustKey(t, "INT-UNHCR", "ES256"), mustKey(t, "XX-STRANGER", "ES256")
	peerPin, reqPin := mustPin(t, peer), mustPin(t, req)
	srv := mustKey(t, "TJ-SRV", "ES256")
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reasons := map[string]int{}
	ln := NewClassListener(raw, ServerConfig(srv), Budget{Peers: 1, Requesters: 2, Others: 1}, func(pin string) Class {
		switch pin {
		case peerPin:
			return ClassPeer
		case reqPin:
			return ClassRequester
		}
		return ClassOther
	}, func(r string) {
		mu.Lock()
		reasons[r]++
		mu.Unlock()
	})
	t.Cleanup(func() { ln.Close() })
	serveEcho(t, ln)
	addr, pin := ln.Addr().String(), mustPin(t, srv)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	try := func(cert *tls.Certificate) error {
		c := dialFrom(t, "127.0.0.1", addr)
		conns = append(conns, c)
		return roundTrip(c, ClientConfig(cert, ExpectPin(pin)), time.Second)
	}
	if err := try(&other); err != nil {
		t.Fatalf("the first stranger: %v", err)
	}
	if try(&other) == nil {
		t.Fatal("a second stranger went past the Others budget of 1")
	}
	for i := range 2 {
		if err := try(&req); err != nil {
			t.Fatalf("requester connection %d refused with the strangers' budget full: %v", i, err)
		}
	}
	if try(&req) == nil {
		t.Fatal("a third requester connection went past the Requesters budget of 2")
	}
	if err := try(&peer); err != nil {
		t.Fatalf("a peer refused with the requesters' budget full: %v", err)
	}
	// The listener reports a refusal after closing the connection: wait
	// for the two reports.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		got := map[string]int{}
		for k, v := range reasons {
			got[k] = v
		}
		mu.Unlock()
		if got[RefusedRequester]+got[RefusedOthers] >= 2 || time.Now().After(deadline) {
			if got[RefusedRequester] != 1 || got[RefusedOthers] != 1 || got[RefusedPeers] != 0 {
				t.Fatalf("refusals %v: want one requester-budget and one unauthenticated", got)
			}
			return
		}
	}
}
