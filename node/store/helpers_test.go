package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	// The crash test re-executes this binary as the process it kills.
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// testLogger routes the store's logs into t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// mustOpen opens a fresh store in t.TempDir with fsync on unless opts
// says otherwise.
func mustOpen(t testing.TB, opts Options) *Store {
	t.Helper()
	return mustOpenPath(t, filepath.Join(t.TempDir(), FileName), opts)
}

func mustOpenPath(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	require.NoError(t, s.Check(context.Background()))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// fakeJWS makes a compact-JWS-shaped value around payload with a random
// signature: the same payload "re-signed" gives other bytes, as ECDSA does.
func fakeJWS(payload []byte) []byte {
	return []byte(b64([]byte(`{"alg":"ES256","kid":"TJ:test","typ":"crvs-event+jws"}`)) + "." + b64(payload) + "." + b64(randBytes(64)))
}

// inbound builds an InboundRecord for (sender, messageID) whose payload is
// payload padded to about size bytes; each call signs anew (other JWS and
// receipt bytes, same payload digest).
func inbound(sender, messageID, payload string, size int) InboundRecord {
	p := []byte(fmt.Sprintf(`{"messageId":%q,"sender":{"country":%q},"payload":%q,"pad":"`, messageID, sender, payload))
	for len(p) < size*3/4 {
		p = append(p, 'x')
	}
	p = append(p, `"}`...)
	rcptPayload := fmt.Sprintf(`{"messageType":"receipt","inResponseTo":%q,"status":"accepted"}`, messageID)
	return InboundRecord{
		Sender:        sender,
		SenderNodeID:  sender + "-MOJ-CRVS",
		MessageID:     messageID,
		MessageType:   "event.birth",
		ReceivedAt:    t0,
		JWS:           fakeJWS(p),
		PayloadDigest: sha256.Sum256(p),
		Receipt:       fakeJWS([]byte(rcptPayload)),
	}
}

// submission builds a submission with one delivery per peer.
func submission(id string, peers ...string) Submission {
	msg := []byte(fmt.Sprintf(`{"messageType":"event.death","id":%q}`, id))
	sub := Submission{ID: id, CreatedAt: t0, Message: msg}
	for _, p := range peers {
		mid := id + "-" + p
		sub.Deliveries = append(sub.Deliveries, Delivery{
			Recipient: p[:2], RecipientNodeID: p, MessageID: mid,
			JWS: fakeJWS([]byte(fmt.Sprintf(`{"messageId":%q,"recipient":{"nodeId":%q}}`, mid, p))),
		})
	}
	return sub
}

// onCommitter runs f on the committer goroutine, so that hooks it sets are
// read by that goroutine without a race.
func onCommitter(t testing.TB, s *Store, f func(c *committer)) {
	t.Helper()
	require.NoError(t, s.write(context.Background(), 0, func(*wtx) error { f(s.commit); return nil }))
}

// gate holds the committer inside an operation until release is called,
// so that the operations sent meanwhile form one batch.
type gate struct {
	entered chan struct{}
	release chan struct{}
	done    chan error
	once    sync.Once
}

func holdCommitter(t testing.TB, s *Store) *gate {
	t.Helper()
	g := &gate{entered: make(chan struct{}), release: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		g.done <- s.write(context.Background(), 0, func(*wtx) error {
			close(g.entered)
			<-g.release
			return nil
		})
	}()
	<-g.entered
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// waitQueued waits until n operations wait for the committer.
func waitQueued(t testing.TB, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.commit.reqs) >= n }, 10*time.Second, time.Millisecond)
}

func isClosed(s *Store) bool {
	s.commit.mu.RLock()
	defer s.commit.mu.RUnlock()
	return s.commit.closed
}
