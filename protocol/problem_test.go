package protocol

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestStatusTitleIsNetHTTPs keeps the titles of problem documents what
// they were when the package used http.StatusText.
func TestStatusTitleIsNetHTTPs(t *testing.T) {
	for st := 100; st < 600; st++ {
		want := http.StatusText(st)
		if want == "" {
			continue
		}
		switch st {
		case 400, 401, 403, 404, 405, 406, 408, 409, 411, 413, 415, 421, 422, 429, 431, 500, 501, 502, 503, 504, 507:
			if got := StatusTitle(st); got != want {
				t.Errorf("StatusTitle(%d) = %q, net/http says %q", st, got, want)
			}
		}
	}
	for _, c := range []Code{CodeTooLarge, CodeKeyUnknown, CodeRecipientMismatch, CodeUnauthorized, CodeNotFound, CodeConflict,
		CodeUnsupported, CodeSchemaInvalid, CodeInternal, CodeUnavailable, CodeHeaderDup} {
		if got, want := StatusTitle(c.Status()), http.StatusText(c.Status()); got != want {
			t.Errorf("%s: title %q, want %q", c, got, want)
		}
	}
}

// TestDecodeProblem: the one client-side decoder reads what ProblemFor
// writes, keeps the registry's extension members, and turns anything else
// into a ProblemError without a code whose text is safe to print.
func TestDecodeProblem(t *testing.T) {
	p := ProblemFor(&Error{Code: CodeSchemaInvalid, Detail: "bad", Issues: []Issue{{Severity: SeverityError, Code: "SCHEMA_REQUIRED", Pointer: "/a"}}})
	p.Reason, p.Cause, p.Result = "R", "timeout", json.RawMessage(`{"index":1}`)
	b, _ := json.Marshal(p)
	t.Run("ok/problem-document", func(t *testing.T) {
		e := DecodeProblem("TJ-MOJ-CRVS", 422, ProblemContentType+"; charset=utf-8", b)
		if e.Problem.Code != CodeSchemaInvalid || e.Problem.Reason != "R" || e.Problem.Cause != "timeout" || string(e.Problem.Result) != `{"index":1}` || len(e.Problem.Issues) != 1 {
			t.Fatalf("%+v", e.Problem)
		}
		if got := e.Error(); !strings.HasPrefix(got, "SCHEMA_VALIDATION_FAILED (R): TJ-MOJ-CRVS answered 422: bad\n  SCHEMA_REQUIRED /a") {
			t.Fatalf("%q", got)
		}
		if e.Retryable() || !e.Permanent() {
			t.Fatal("a schema refusal is permanent")
		}
	})
	t.Run("fail/not-a-problem-content-type", func(t *testing.T) {
		e := DecodeProblem("", 404, "application/json", b)
		if e.Problem.Code != "" || !e.Retryable() {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("fail/hostile-body-is-cleaned", func(t *testing.T) {
		e := DecodeProblem("x", 502, "text/html", []byte("<h1>\x1b[31mgateway\r\nfake: log line</h1>"))
		if s := e.Error(); strings.ContainsAny(s, "\x1b\r\n") || !strings.Contains(s, "without a problem document") {
			t.Fatalf("%q", s)
		}
		if !e.Retryable() {
			t.Fatal("a 5xx is retryable")
		}
	})
	t.Run("fail/problem-without-code", func(t *testing.T) {
		e := DecodeProblem("x", 400, ProblemContentType, []byte(`{"title":"bad"}`))
		if e.Problem.Code != "" || !e.Retryable() {
			t.Fatalf("a 4xx without a code is not a node's verdict: %+v", e)
		}
	})
}

// TestStorageFull: SPEC §7 "STORAGE_FULL | 507 | retry later": a full
// receiver's answer is a 507 problem document a sender keeps retrying.
func TestStorageFull(t *testing.T) {
	p := ProblemFor(&Error{Code: CodeStorageFull, Detail: "the volume is full"})
	if p.Status != 507 || p.Title != "Insufficient Storage" || p.Type != ProblemTypeBase+"storage-full" {
		t.Fatalf("%+v", p)
	}
	b, _ := json.Marshal(p)
	e := DecodeProblem("TJ-MOJ-CRVS", 507, ProblemContentType, b)
	if e.Problem.Code != CodeStorageFull || !e.Retryable() || e.Permanent() {
		t.Fatalf("a full receiver is retried, not a dead letter: %+v", e)
	}
}

// TestQueryCodes: SPEC §7 and §11.2: REQUESTER_SUSPENDED and
// QUERY_NOT_AUTHORIZED are 403, RATE_LIMITED is 429 and retryable.
func TestQueryCodes(t *testing.T) {
	for _, tc := range []struct {
		code      Code
		status    int
		retryable bool
	}{
		{CodeRequesterSuspended, 403, false},
		{CodeQueryNotAuthorized, 403, false},
		{CodeRateLimited, 429, true},
	} {
		t.Run(string(tc.code), func(t *testing.T) {
			p := ProblemFor(&Error{Code: tc.code})
			if p.Status != tc.status || p.Title != http.StatusText(tc.status) {
				t.Fatalf("%+v", p)
			}
			b, _ := json.Marshal(p)
			if e := DecodeProblem("TJ-MOJ-CRVS", p.Status, ProblemContentType, b); e.Retryable() != tc.retryable {
				t.Fatalf("retryable %v, want %v", e.Retryable(), tc.retryable)
			}
		})
	}
}
