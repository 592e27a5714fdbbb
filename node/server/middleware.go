package server

import (
	"crypto/tls"
	"fmt"
	stdlog "log"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/protocol"
)

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
		sw := &statusWriter{ResponseWriter: w}
		r, id := httpio.WithRequestID(sw, r)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", slog.String("request_id", id), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if sw.status == 0 {
					httpio.WriteProblem(sw, r, log, fmt.Errorf("panic: %v", v))
				}
			}
			d := time.Since(start)
			if m != nil {
				m.observe(api, r.Pattern, sw.status, d)
			}
			log.Debug("http", slog.String("api", api), slog.String("request_id", id), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Int64("bytes", sw.n), slog.Duration("took", d))
		}()
		if !strings.HasPrefix(r.URL.Path, "/") {
			// "GET *" or a CONNECT's authority form: no route takes
			// them, and ServeMux would answer a bare 400 or 404.
			httpio.WriteProblem(sw, r, log, protocol.Errorf(protocol.CodeBadRequest, "the request target %q is not a path", printable(r.RequestURI)))
			return
		}
		h.ServeHTTP(sw, r)
	})
}

// printable shortens a request target for a problem's detail.
func printable(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// NewHTTPServer returns the http.Server of one of the node's listeners:
// bounded header, read, write and idle times, 64 KiB of headers, and
// net/http's own error log sent to log at warn level. tlsConfig is nil for
// a plain-HTTP listener.
func NewHTTPServer(h http.Handler, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, TLSConfig: tlsConfig, ErrorLog: stdlog.New(&slogWriter{log}, "", 0),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
}

// slogWriter sends net/http's error log to slog: a handler's panic that
// escaped Wrap is a bug (ERROR); anything else there — TLS handshake
// errors, malformed requests — is what a client did (WARN).
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.HasPrefix(msg, "http: panic serving") {
		w.l.Error("http server", slog.String("msg", msg))
	} else {
		w.l.Warn("http server", slog.String("msg", msg))
	}
	return len(p), nil
}
