package records

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/ecrn/crvsx/node/internal/httpio"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
)

// MediaType is the body of POST /v1/records: one record a line.
const MediaType = "application/x-ndjson"

// Handler is POST /v1/records on the local API (DESIGN.md R2): the body,
// at most MaxRequestBytes (413 before parsing), is imported; the answer is
// the Report (200, even with rejected lines). Errors are problem documents.
func (e *Embedded) Handler(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpio.CheckContentType(r, MediaType); err != nil {
			httpio.WriteProblem(w, r, log, err)
			return
		}
		body, err := httpio.ReadBody(w, r, MaxRequestBytes)
		if err != nil {
			httpio.WriteProblem(w, r, log, err)
			return
		}
		rep, err := e.Import(r.Context(), body)
		if err != nil {
			httpio.WriteProblem(w, r, log, problemOf(err))
			return
		}
		httpio.WriteJSON(w, http.StatusOK, "application/json", rep)
	})
}

// problemOf classifies an import failure.
func problemOf(err error) error {
	switch {
	case errors.Is(err, ErrTooManyLines):
		return &protocol.Error{Code: protocol.CodeTooLarge, Detail: err.Error(), Err: err}
	case errors.Is(err, store.ErrFull):
		return &protocol.Error{Code: protocol.CodeStorageFull, Detail: "this node's storage is full; no line was applied, retry later", Err: err}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrConflict):
		return &protocol.Error{Code: protocol.CodeUnavailable, Detail: "the records store cannot take writes now; no line was applied, retry later", Err: err}
	}
	return err
}
