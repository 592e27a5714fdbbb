package httpio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/ecrn/crvsx/protocol"
)

// HeaderRequestID carries a request's id on every answer; a problem
// document's "instance" is the same id (SPEC §7).
const HeaderRequestID = "Crvs-Request-Id"

type ctxKey struct{}

// WithRequestID gives r a new request id, sets HeaderRequestID on w and
// returns the request to pass on. The listeners' middleware calls it first.
func WithRequestID(w http.ResponseWriter, r *http.Request) (*http.Request, string) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	w.Header().Set(HeaderRequestID, id)
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)), id
}

// RequestID returns the id WithRequestID gave the request ("" outside it).
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}

// WriteProblem is the one place an error becomes an HTTP answer (SPEC §7):
// protocol.ProblemFor(err) is sent with its status; "instance" is the
// request id (one is made if the request has none). Its log line is at
// error level only for INTERNAL — an error nothing classified, the node's
// own fault, logged with its cause — and at warn level for everything
// else: a refusal (4xx) is the client's doing, and a 503 (UNAVAILABLE,
// REGISTRY_STALE) is a state the node reports on /readyz and in its
// metrics, which any client can ask about as often as it likes. Give it a
// rate-limited logger (node/internal/ratelog) where strangers can call.
// 503 and 507 answers carry Retry-After; so does a 429, with the value
// the handler set before calling (its limiter knows when), else 1 second.
func WriteProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := protocol.ProblemFor(err)
	id := RequestID(r.Context())
	if id == "" {
		r, id = WithRequestID(w, r)
	}
	p.Instance = id
	attrs := []any{
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", p.Status),
		slog.String("code", string(p.Code)),
	}
	if p.Reason != "" {
		attrs = append(attrs, slog.String("reason", p.Reason))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away before the answer (its timeout, its
		// shutdown): nothing here failed, and whatever the request had
		// started may still have completed — the client must treat the
		// outcome as unknown and retry with the same id, which every
		// write of the node's is idempotent on. Not an error of ours.
		log.Info("request abandoned by the client; its outcome is unknown to it", append(attrs, slog.Any("err", err))...)
	case p.Code == protocol.CodeInternal:
		log.Error("request failed", append(attrs, slog.Any("err", err))...)
	default:
		log.Warn("request refused", append(attrs, slog.String("detail", p.Detail))...)
	}
	if p.Status == http.StatusServiceUnavailable || p.Status == http.StatusInsufficientStorage {
		w.Header().Set("Retry-After", "5")
	}
	if p.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, p.Status, protocol.ProblemContentType, p)
}

// WriteJSON writes v as JSON (HTML characters not escaped, one trailing
// LF) with the given status and content type; answers are never cached.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a bug can get here (every answer type marshals).
		status, contentType = http.StatusInternalServerError, protocol.ProblemContentType
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(protocol.ProblemFor(err))
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ReadBody reads a request body of at most limit bytes (SPEC §6.1, §7): a
// Content-Length over the limit is refused before reading, a body that
// turns out larger is refused without being read further
// (MESSAGE_TOO_LARGE), and a body that cannot be read — malformed chunked
// encoding or trailer, a connection lost mid-body, a read deadline — is
// the sender's fault (REQUEST_BODY_UNREADABLE, 400), never the node's.
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
		return nil, &protocol.Error{Code: protocol.CodeBodyUnreadable, Detail: "the request body could not be read (malformed chunked encoding or trailer, or the connection failed)", Err: err}
	}
	return b, nil
}

// CheckContentType refuses a request whose Content-Type is not want
// (parameters allowed): UNSUPPORTED_MEDIA_TYPE.
func CheckContentType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return protocol.Errorf(protocol.CodeUnsupported, "Content-Type must be %s", want)
	}
	return nil
}

// NotFound is the problem of a path or method no route serves.
func NotFound(r *http.Request) error {
	return protocol.Errorf(protocol.CodeNotFound, "no resource %s %s", r.Method, printablePath(r.URL.Path))
}

// printablePath shortens a path for a problem's detail.
func printablePath(p string) string {
	if len(p) > 200 {
		p = p[:200] + "…"
	}
	return strconv.Quote(p)
}
