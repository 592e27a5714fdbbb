package httpio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// knowsItsProblem is an error that implements protocol.Problemer, as the
// registry API's errors do.
type knowsItsProblem struct{}

func (knowsItsProblem) Error() string { return "registry: BELOW_THRESHOLD: 1 of 2" }
func (knowsItsProblem) Problem() protocol.Problem {
	return protocol.Problem{Code: protocol.CodeRegistryRejected, Detail: "1 of 2", Reason: "BELOW_THRESHOLD", Result: json.RawMessage(`{"index":7}`)}
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) protocol.Problem {
	t.Helper()
	pe := protocol.DecodeProblem("", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
	require.NotEmpty(t, pe.Problem.Code, "not a problem document: %s", rec.Body)
	return pe.Problem
}

// TestWriteProblem is SPEC §7: a refusal keeps its code and detail, an
// internal cause is never sent, an error that knows its problem keeps its
// extension members, "instance" is the request id, 5xx are logged at error
// and 4xx at warn.
func TestWriteProblem(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   protocol.Code
		detail string
		level  string
	}{
		{"refusal/keeps-code-and-detail", protocol.Errorf(protocol.CodeAlgNone, "alg none"), 400, protocol.CodeAlgNone, "alg none", "WARN"},
		{"refusal/conflict-409", protocol.Errorf(protocol.CodeConflict, "same id"), 409, protocol.CodeConflict, "same id", "WARN"},
		{"refusal/problemer-keeps-extensions", knowsItsProblem{}, 422, protocol.CodeRegistryRejected, "1 of 2", "WARN"},
		{"internal/cause-never-sent", errors.New("open /var/lib/crvsx/node.db: disk I/O error"), 500, protocol.CodeInternal, "internal error; the request can be retried", "ERROR"},
		{"unavailable/retry-after-warn-not-error", protocol.Errorf(protocol.CodeUnavailable, "later"), 503, protocol.CodeUnavailable, "later", "WARN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			rec := httptest.NewRecorder()
			r, id := WithRequestID(rec, httptest.NewRequest("POST", "/v1/messages", nil))
			WriteProblem(rec, r, log, tc.err)
			assert.Equal(t, tc.status, rec.Code)
			p := decode(t, rec)
			assert.Equal(t, tc.code, p.Code)
			assert.Equal(t, tc.code.TypeURI(), p.Type)
			assert.Equal(t, tc.status, p.Status)
			assert.Equal(t, http.StatusText(tc.status), p.Title)
			assert.Equal(t, tc.detail, p.Detail)
			assert.Equal(t, id, p.Instance, "instance is the request id")
			assert.Equal(t, id, rec.Header().Get(HeaderRequestID))
			assert.NotContains(t, rec.Body.String(), "disk I/O")
			assert.Contains(t, logs.String(), "level="+tc.level)
			if tc.level == "WARN" {
				assert.NotContains(t, logs.String(), "level=ERROR", "a stranger's request never logs at ERROR")
			}
			assert.Equal(t, tc.status == 503, rec.Header().Get("Retry-After") != "")
			if _, ok := tc.err.(knowsItsProblem); ok {
				assert.Equal(t, "BELOW_THRESHOLD", p.Reason)
				assert.JSONEq(t, `{"index":7}`, string(p.Result))
			}
		})
	}
	// SPEC §7, §11.2.5: RATE_LIMITED is a 429 with Retry-After: the
	// handler's own value (its limiter knows when), else 1 second.
	t.Run("rate-limited/429-keeps-handler-retry-after", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("Retry-After", "7")
		WriteProblem(rec, httptest.NewRequest("POST", "/v1/queries", nil), nil, protocol.Errorf(protocol.CodeRateLimited, "slow down"))
		assert.Equal(t, 429, rec.Code)
		assert.Equal(t, "7", rec.Header().Get("Retry-After"))
		assert.Equal(t, protocol.CodeRateLimited, decode(t, rec).Code)
	})
	t.Run("rate-limited/429-default-retry-after", func(t *testing.T) {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("POST", "/v1/queries", nil), nil, protocol.Errorf(protocol.CodeRateLimited, "slow down"))
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	})
	// A client that went away (its timeout) is not the node's failure: the
	// store's "may still commit" (store.committer.do) reaches here as
	// context.Canceled. Logged at info, never ERROR; the same error on a
	// live request is still INTERNAL.
	t.Run("abandoned/client-gone-info-not-error", func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/v1/outbox", nil).WithContext(ctx)
		WriteProblem(rec, r, log, fmt.Errorf("enqueue: %w", context.Canceled))
		assert.Contains(t, logs.String(), "level=INFO")
		assert.Contains(t, logs.String(), "abandoned by the client")
		assert.NotContains(t, logs.String(), "level=ERROR")
	})
	t.Run("abandoned/live-request-canceled-is-internal", func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("POST", "/v1/outbox", nil), log, fmt.Errorf("enqueue: %w", context.Canceled))
		assert.Equal(t, 500, rec.Code)
		assert.Contains(t, logs.String(), "level=ERROR")
	})
	t.Run("instance/made-when-missing", func(t *testing.T) {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("GET", "/x", nil), nil, protocol.Errorf(protocol.CodeNotFound, "no"))
		p := decode(t, rec)
		assert.Len(t, p.Instance, 16)
		assert.Equal(t, p.Instance, rec.Header().Get(HeaderRequestID))
	})
}

// failingBody is a request body whose read fails as a malformed chunked
// body does in net/http.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("malformed chunked encoding") }

// TestReadBody is SPEC §6.1 and §7: the size limit before reading, and a
// body that cannot be read is the sender's fault (4xx), never INTERNAL.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name          string
		body          io.Reader
		contentLength int64
		code          protocol.Code
	}{
		{"ok/within-limit", strings.NewReader("abcd"), 4, ""},
		{"fail/content-length-over-limit", strings.NewReader("abcdefgh"), 8, protocol.CodeTooLarge},
		{"fail/chunked-over-limit", strings.NewReader("abcdefgh"), -1, protocol.CodeTooLarge},
		{"fail/unreadable-body-is-4xx", failingBody{}, -1, protocol.CodeBodyUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", io.NopCloser(tc.body))
			r.ContentLength = tc.contentLength
			b, err := ReadBody(httptest.NewRecorder(), r, 5)
			if tc.code == "" {
				require.NoError(t, err)
				assert.Equal(t, "abcd", string(b))
				return
			}
			assert.Equal(t, tc.code, protocol.CodeOf(err))
			assert.Less(t, protocol.ProblemFor(err).Status, 500)
		})
	}
}

func TestCheckContentType(t *testing.T) {
	for ct, ok := range map[string]bool{"application/jose": true, "application/jose; charset=utf-8": true, "": false, "application/json": false, "application/jose;;": false} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Content-Type", ct)
		err := CheckContentType(r, "application/jose")
		assert.Equal(t, ok, err == nil, ct)
		if err != nil {
			assert.Equal(t, protocol.CodeUnsupported, protocol.CodeOf(err))
		}
	}
}
