package ratelog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	h := Handler(slog.NewTextHandler(&buf, nil), 1, 3).(*handler)
	now := time.Unix(1e9, 0)
	h.l.now = func() time.Time { return now }
	log := slog.New(h).With("listener", "peer")
	for range 10 {
		log.Warn("request refused", "code", "JWS_ALG_NONE")
	}
	log.Warn("another kind")
	for range 5 {
		log.Error("store failed")
	}
	out := buf.String()
	if n := strings.Count(out, "request refused"); n != 3 {
		t.Fatalf("%d refusals logged, want the burst of 3:\n%s", n, out)
	}
	if !strings.Contains(out, "another kind") {
		t.Fatal("a second kind has its own bucket")
	}
	if n := strings.Count(out, "store failed"); n != 5 {
		t.Fatalf("ERROR is never limited: %d of 5", n)
	}
	buf.Reset()
	now = now.Add(2 * time.Second) // two tokens back
	log.Warn("request refused")
	if !strings.Contains(buf.String(), "suppressed=7") || !strings.Contains(buf.String(), "listener=peer") {
		t.Fatalf("the next line must count the 7 dropped: %s", buf.String())
	}
}

func TestHandlerBoundsItsKinds(t *testing.T) {
	var buf bytes.Buffer
	h := Handler(slog.NewTextHandler(&buf, nil), 0, 1).(*handler)
	for i := range 3 * maxKinds {
		_ = h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelWarn, strings.Repeat("x", i%500)+string(rune('a'+i%26)), 0))
	}
	if len(h.l.buckets) > maxKinds+1 {
		t.Fatalf("%d buckets", len(h.l.buckets))
	}
}
