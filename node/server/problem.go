package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ecrn/crvsx/protocol"
)

// WriteProblem is the one place an error becomes an HTTP answer (SPEC §7):
// a *protocol.Error keeps its code, status, detail and issues; anything else
// is INTERNAL, whose cause is logged and never sent. 5xx are logged at
// error, 4xx at warn.
func WriteProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := protocol.ProblemFor(err)
	p.Instance = RequestID(r.Context())
	attrs := []any{
		slog.String("request_id", p.Instance),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", p.Status),
		slog.String("code", string(p.Code)),
	}
	var pe *protocol.Error
	if p.Status >= 500 || !errors.As(err, &pe) {
		log.Error("request failed", append(attrs, slog.Any("err", err))...)
	} else {
		log.Warn("request refused", append(attrs, slog.String("detail", p.Detail))...)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	WriteJSON(w, p.Status, protocol.ProblemContentType, p)
}

// WriteJSON writes v as JSON with the given status and content type.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"code":"INTERNAL"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
