package records

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/protocol"
)

func adapter(t *testing.T, h http.HandlerFunc) *HTTPSource {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &HTTPSource{URL: srv.URL + "/match", Token: "secret-token", Timeout: 2 * time.Second}
}

// R7: the request is the subject as status.query writes it, with the
// bearer token; candidates come back in the import line's shape.
func TestHTTPSource_Contract(t *testing.T) {
	var got map[string]any
	src := adapter(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "Bearer secret-token", r.Header.Get("Authorization"))
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		b, _ := io.ReadAll(r.Body)
		require.NoError(t, json.Unmarshal(b, &got))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[`+lineAigul+`,`+lineAsel+`]}`)
	})
	s := latin("Aigul Yusupova", "1990-04-03")
	s.Identifiers = []match.Identifier{{Scheme: "PASSPORT", Value: "N123", Country: "KZ"}}
	s.Sex, s.BirthCountry = 2, "KZ"
	res, f, err := Lookup(context.Background(), src, s)
	require.NoError(t, err)
	require.Equal(t, match.UniqueMatch, res.Outcome)
	require.Equal(t, "KZ-1", res.PersonID)
	require.Equal(t, Yes, f.CitizenshipConfirmed)
	require.Equal(t, map[string]any{"names": []any{map[string]any{"fullName": "Aigul Yusupova", "script": "Latn"}}, "birthDate": "1990-04-03",
		"sex": float64(2), "birthPlace": map[string]any{"country": "KZ"},
		"identifiers": []any{map[string]any{"scheme": "PASSPORT", "value": "N123", "issuingCountry": "KZ"}}}, got)
	// The subject the node sends is one status.query accepts.
	_, err = match.ParseSubject(got)
	require.NoError(t, err)
}

// R7: every failure is UNAVAILABLE, never a guess.
func TestHTTPSource_FailuresAreUnavailable(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"slow": func(w http.ResponseWriter, r *http.Request) {
			select { // longer than the adapter's timeout
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		},
		"oversized": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"candidates":[`+strings.Repeat(lineAsel+",", MaxResponseBytes/len(lineAsel)+1)+lineAsel+`]}`)
		},
		"malformed":      func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"candidates":[{"recordId":`) },
		"not candidates": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"records":[]}`) },
		"bad candidate":  func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"candidates":[{"recordId":"X"}]}`) },
		"repeated recordId": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"candidates":[`+lineAsel+`,`+lineAsel+`]}`)
		},
		"status 500":         func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
		"redirect is not ok": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) },
	} {
		t.Run(name, func(t *testing.T) {
			src := adapter(t, h)
			src.Timeout = 300 * time.Millisecond
			_, _, err := Lookup(context.Background(), src, latin("Aigul Yusupova", "1990-04-03"))
			require.Error(t, err)
			require.Equal(t, protocol.CodeUnavailable, protocol.CodeOf(err), "%v", err)
		})
	}
}

func TestHTTPSource_TooManyCandidatesIsInsufficientData(t *testing.T) {
	src := adapter(t, func(w http.ResponseWriter, r *http.Request) {
		var items []string
		for i := range MaxAnswerCandidates + 1 {
			items = append(items, strings.Replace(lineAsel, `"KZ-2"`, `"X-`+strings.Repeat("1", i%50+1)+`"`, 1))
		}
		io.WriteString(w, `{"candidates":[`+strings.Join(items, ",")+`]}`)
	})
	res, _, err := Lookup(context.Background(), src, latin("Asel Yusupova", "1992-07-11"))
	require.NoError(t, err)
	require.Equal(t, match.InsufficientData, res.Outcome)
}
