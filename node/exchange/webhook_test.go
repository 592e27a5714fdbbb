package exchange_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhookPush(t *testing.T) {
	ctx := context.Background()
	r, st := tjReceiver(t)
	_, err := r.Receive(ctx, tr.Sign(protocol.TypEvent, birth()), trPeer)
	require.NoError(t, err)

	t.Run("fail/redirect-is-not-an-acknowledgement", func(t *testing.T) {
		var posts atomic.Int32
		login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
		defer login.Close()
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			http.Redirect(w, r, login.URL, http.StatusFound)
		}))
		defer hook.Close()
		p := &exchange.Pusher{URL: hook.URL, Secret: []byte("s"), Store: st, BackoffBase: 10 * time.Millisecond, BackoffCap: 20 * time.Millisecond}
		p.Init()
		rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_ = p.Run(rctx)
		assert.Greater(t, posts.Load(), int32(1), "retried")
		acked, err := st.AckedUpTo(ctx, exchange.WebhookConsumer)
		require.NoError(t, err)
		assert.EqualValues(t, 0, acked, "a redirect acknowledges nothing")
	})

	t.Run("ok/2xx-acknowledges-in-order-with-hmac", func(t *testing.T) {
		var got []string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if r.Header.Get("Crvs-Signature") != exchange.Sign([]byte("s"), b) {
				w.WriteHeader(401)
				return
			}
			got = append(got, r.Header.Get("Crvs-Delivery"))
			w.WriteHeader(204)
		}))
		defer hook.Close()
		p := &exchange.Pusher{URL: hook.URL, Secret: []byte("s"), Store: st}
		p.Init()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = p.Run(rctx); close(done) }()
		require.Eventually(t, func() bool {
			a, _ := st.AckedUpTo(ctx, exchange.WebhookConsumer)
			return a == 1
		}, 5*time.Second, 10*time.Millisecond)
		cancel()
		<-done
		assert.Equal(t, []string{"1"}, got)
	})
}
