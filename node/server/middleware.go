package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

type ctxKey int

const requestIDKey ctxKey = 1

// RequestID returns the id the middleware gave the request ("" outside it).
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter records the status code for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Wrap puts the middleware every listener shares around h: a request id
// (also sent as Crvs-Request-Id), panic recovery (answered INTERNAL, never
// a crash), an access log at debug level and the request metrics of api.
func Wrap(api string, h http.Handler, log *slog.Logger, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("Crvs-Request-Id", id)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", slog.String("request_id", id), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if sw.status == 0 {
					WriteProblem(sw, r, log, fmt.Errorf("panic: %v", v))
				}
			}
			d := time.Since(start)
			if m != nil {
				m.observe(api, r.Pattern, sw.status, d)
			}
			log.Debug("http", slog.String("api", api), slog.String("request_id", id), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Int64("bytes", sw.n), slog.Duration("took", d))
		}()
		h.ServeHTTP(sw, r)
	})
}

// ReadBody reads a request body of at most limit bytes: a Content-Length
// over the limit is refused before reading, and a body that turns out
// larger is refused without being read further (SPEC §6.1).
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, protocol.Errorf(protocol.CodeTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, protocol.Errorf(protocol.CodeTooLarge, "body is over the limit of %d bytes", limit)
		}
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return b, nil
}
