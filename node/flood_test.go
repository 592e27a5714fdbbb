package node_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/peer"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/stretchr/testify/require"
)

// flood keeps up to conns connections open to addr from the loopback
// source addresses srcs (round robin), reopening each as soon as the node
// closes it, until stop. Idle ones send nothing; half-open ones send the
// first bytes of a TLS record and stall. It returns how many it opened.
func flood(addr string, srcs []string, conns int, halfOpen bool, stop <-chan struct{}) *atomic.Int64 {
	var opened atomic.Int64
	for i := range conns {
		go func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcs[i%len(srcs)])}, Timeout: time.Second}
			for n := 0; n < 10000; n++ { // bounded, whatever happens
				select {
				case <-stop:
					return
				default:
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				opened.Add(1)
				if halfOpen {
					_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
				}
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Read(make([]byte, 1)) // returns when the node closes it
				c.Close()
				time.Sleep(5 * time.Millisecond) // reopened as it closes, without spinning the shared cores
			}
		}()
	}
	return &opened
}

// TestPeerListenerUnderFlood is the finding "about 1,100 idle TCP
// connections that never start TLS, reopened as they close, held a
// registered peer's valid message back for ~9 s": with 1,100 idle and
// half-open connections from one source, reopened as the node closes
// them, a registered peer (TR) opening a fresh connection still has its
// message accepted within 1 s, every time. (A flood spread over many
// sources is bounded by the pending budget and its eviction of the oldest
// handshake, pintls.Budget; it is not a test here: on two shared cores the
// flooder's own load decides the outcome.)
func TestPeerListenerUnderFlood(t *testing.T) {
	if testing.Short() {
		t.Log("-short: one round instead of five")
	}
	n := startNet(t, nil)
	tj, tr := n.Members["TJ"], n.Members["TR"]
	trCert := loadTLS(t, tr)
	kb, err := os.ReadFile(tr.Config.Keys.SigningKey)
	require.NoError(t, err)
	signer, err := jws.ParsePrivateJWK(kb)
	require.NoError(t, err)
	nd, ok := tj.Node().Registry().View().Node(tj.NodeID)
	require.True(t, ok)

	send := func(t *testing.T) time.Duration {
		c, err := peer.New(peer.Config{Certificate: trCert, PinFor: func(string) (string, bool) { return nd.TLSSPKISHA256, true }, Timeout: 5 * time.Second})
		require.NoError(t, err)
		defer c.Close()
		tok, err := signer.Sign(protocol.TypEvent, protocoltest.BirthMessageAt(tr.NodeID, tj.NodeID, protocol.NewUUID(), time.Now()))
		require.NoError(t, err)
		start := time.Now()
		receipt, err := c.Send(context.Background(), peer.NodeAddr{ID: tj.NodeID, URL: tj.PeerURL()}, tok)
		took := time.Since(start)
		require.NoError(t, err)
		require.NotEmpty(t, receipt)
		return took
	}
	rounds := 5
	if testing.Short() {
		rounds = 1
	}
	var calm time.Duration
	for range rounds {
		calm = max(calm, send(t))
	}
	stop := make(chan struct{})
	addr := tj.Config.Listen.Peer
	idle := flood(addr, []string{"127.0.0.2"}, 550, false, stop)
	half := flood(addr, []string{"127.0.0.2"}, 550, true, stop)
	defer close(stop)
	time.Sleep(time.Second) // the flood is established
	var worst time.Duration
	for range rounds {
		worst = max(worst, send(t))
	}
	t.Logf("%d idle and %d half-open connections opened from one source; a peer's message accepted in at most %s over %d rounds (%s without the flood)",
		idle.Load(), half.Load(), worst.Round(time.Millisecond), rounds, calm.Round(time.Millisecond))
	// Within 1 s of what the same send takes without the flood, measured in
	// this run (the race detector alone makes a send take ~0.4 s here).
	require.Less(t, worst-calm, time.Second, "a registered peer's message must be accepted within 1 s under the flood")
}

func loadTLS(t *testing.T, m *devnet.Member) (c tls.Certificate) {
	t.Helper()
	certPEM, err := os.ReadFile(m.Config.Keys.TLSCert)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(m.Config.Keys.TLSKey)
	require.NoError(t, err)
	c, err = pintls.Load(certPEM, keyPEM)
	require.NoError(t, err)
	return c
}
