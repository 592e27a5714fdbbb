package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/query"
	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runIn runs the command line in this process (Main, as the binary does).
func runIn(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, bytes.NewReader(nil), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// errorLines are the lines of stderr but the bundle's summary, which
// every command that replays a bundle prints first.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "bundle: ") {
			out = append(out, l)
		}
	}
	return out
}

// recorder keeps a copy of what a handler answers.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// fixedRecords answers every subject with one outcome and answers.
type fixedRecords struct {
	outcome match.Outcome
	answers map[string]string
}

func (f fixedRecords) Status(context.Context, match.Subject, []string) (match.Outcome, map[string]string, bool, error) {
	return f.outcome, f.answers, false, nil
}

// queryNet is a network (TJ, TR, KZ) whose TJ node serves POST /v1/queries
// with the real node/query Handler on a pinned TLS listener in this
// process, INT-UNHCR registered as a requester, and the requester's files
// and the network's trust bundle on disk, as a requester holds them.
type queryNet struct {
	dir                 string
	key, tlsKey, bundle string // the requester's signing key, TLS key; the bundle
	genesisPin          string
	subject             string
	url                 string
	requests            atomic.Int64 // requests the node's handler saw
	// replayFirst makes the node answer every query with the first
	// attestation it gave (an answer to another query).
	replayFirst atomic.Bool
	first       atomic.Pointer[[]byte]
	view        *trust.View
	tj          *jws.Signer // TJ's signing key
}

type queryNetOpts struct {
	otherKey bool // the node serves with a TLS key that is not the registered one
	closed   bool // nothing listens at the registered URL
}

func startQueryNet(t *testing.T, o queryNetOpts) *queryNet {
	t.Helper()
	q := &queryNet{dir: t.TempDir()}
	n := trusttest.New(t, "TJ", "TR", "KZ")
	n.Now = trust.TimestampOf(time.Now().Add(-10 * time.Minute))
	s := n.State()
	var entries []trust.Entry
	apply := func(data []byte) {
		t.Helper()
		e := n.Entry(data)
		next, res, err := trust.Apply(s, e)
		require.NoError(t, err)
		require.Equal(t, trust.OutcomeAccepted, res.Outcome, "%s %s", res.Reason, res.Detail)
		s, entries = next, append(entries, e)
		n.Advance(time.Second)
	}

	// The TJ node: its API URL is this test's listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	q.url = "https://" + ln.Addr().String()
	if o.closed {
		require.NoError(t, ln.Close())
	} else {
		t.Cleanup(func() { ln.Close() })
	}
	nodeCert, err := pintls.Generate("TJ-N1", "")
	require.NoError(t, err)
	nodePin, err := pintls.Pin(nodeCert)
	require.NoError(t, err)
	ns := trusttest.NodeSpec("TJ", 1, trust.RoleVoter)
	ns.APIURL, ns.TLSSPKISHA256 = q.url, nodePin
	apply(n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: ns}), n.Member("TJ").Gov))

	// The requester: its signing key and client TLS key, registered.
	reqKey := n.RequesterKey("INT-UNHCR")
	priv, err := jws.MarshalPrivateJWK(reqKey)
	require.NoError(t, err)
	q.key = filepath.Join(q.dir, "INT-UNHCR.private.jwk")
	require.NoError(t, os.WriteFile(q.key, priv, 0o600))
	reqTLS, err := pintls.Generate("INT-UNHCR", "")
	require.NoError(t, err)
	_, keyPEM, err := pintls.Encode(reqTLS)
	require.NoError(t, err)
	q.tlsKey = filepath.Join(q.dir, "INT-UNHCR.tls.key")
	require.NoError(t, os.WriteFile(q.tlsKey, keyPEM, 0o600))
	rs := n.RequesterSpec("INT-UNHCR", reqKey)
	rs.TLSSPKISHA256, err = pintls.Pin(reqTLS)
	require.NoError(t, err)
	apply(n.Sign(n.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: rs}), n.Gov("TJ", "TR")...))

	raw, err := trust.NewBundle(n.Genesis, entries, s.ChainHead()).Marshal()
	require.NoError(t, err)
	q.bundle = filepath.Join(q.dir, "trust-bundle.json")
	require.NoError(t, os.WriteFile(q.bundle, raw, 0o644))
	q.genesisPin = n.Genesis.Hash()
	q.subject = filepath.Join(q.dir, "subject.json")
	require.NoError(t, os.WriteFile(q.subject, []byte(`{
  "names": [{"script": "Latn", "fullName": "RUSTAM KARIMOV", "familyName": "KARIMOV", "givenNames": "RUSTAM"}],
  "birthDate": "1979-11-03",
  "sex": 1
}`), 0o644))
	if o.closed {
		return q
	}

	// The node's handler: the real one, with the registry's view.
	view := trust.NewView(s)
	q.view, q.tj = view, n.Member("TJ").Sig
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	h, err := query.New(query.Config{NodeID: "TJ-N1", Member: "TJ", Authority: "Ministry of Justice of the Republic of Tajikistan"}, query.Deps{
		Registry: query.FromView(func() *trust.View { return view }),
		Records:  fixedRecords{outcome: match.UniqueMatch, answers: map[string]string{"vital-status": "no-death-registered", "is-registered": "yes"}},
		Store:    st, Signer: func() *jws.Signer { return n.Member("TJ").Sig }, AuditKey: bytes.Repeat([]byte("k"), query.AuditKeySize),
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /v1/queries", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.requests.Add(1)
		if first := q.first.Load(); first != nil && q.replayFirst.Load() {
			w.Header().Set("Content-Type", protocol.MediaTypeJOSE)
			_, _ = w.Write(*first)
			return
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if b := rec.body.Bytes(); rec.status == http.StatusOK {
			q.first.CompareAndSwap(nil, &b)
		}
	}))
	serving := nodeCert
	if o.otherKey {
		serving, err = pintls.Generate("TJ-N1", "")
		require.NoError(t, err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: pintls.ServerConfig(serving), ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return q
}

// args are the flags of a query as a requester gives them, then extra.
func (q *queryNet) args(extra ...string) []string {
	return append([]string{"query", "--key", q.key, "--tls-key", q.tlsKey, "--to", "TJ", "--subject", q.subject,
		"--purpose", "humanitarian-verification", "--basis", "data-subject-consent",
		"--consent-obtained-at", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--consent-method", "written",
		"--case-ref", "UNHCR-TJ-2026-0193", "--bundle", q.bundle, "--genesis-sha256", q.genesisPin, "--timeout", "10s"}, extra...)
}

// TestQuery is protocol/SPEC.md §11 from the requester's side: crvsx query
// builds, signs and sends a status.query over pinned mTLS to the member's
// node named in the trust bundle, verifies the attestation offline against
// the same bundle, saves it and says what it attests; a refusal is printed
// with its code (exit 1), a node whose key is not the registered one is
// refused before anything is sent and an unreachable node is one line
// (exit 3).
func TestQuery(t *testing.T) {
	t.Run("ok/unique-match-saved-and-printed", func(t *testing.T) {
		q := startQueryNet(t, queryNetOpts{})
		out := filepath.Join(q.dir, "att.jws")
		r := runIn(t, q.args("--question", "vital-status", "--question", "is-registered", "--out", out)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "VALID — Tajikistan (TJ), Ministry of Justice of the Republic of Tajikistan, attests")
		assert.Contains(t, r.stdout, "vital status: no death registered")
		assert.Contains(t, r.stdout, "registered: yes")
		assert.Contains(t, r.stdout, "saved to "+out)
		assert.Equal(t, int64(1), q.requests.Load())

		// The saved file is the attestation: it verifies offline with
		// crvsx verify against the same bundle.
		saved, err := os.ReadFile(out)
		require.NoError(t, err)
		v := runIn(t, "verify", "--bundle", q.bundle, "--genesis-sha256", q.genesisPin, "--json", out)
		require.Equal(t, exitOK, v.code, v.stderr)
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(v.stdout), &doc), v.stdout)
		assert.Equal(t, "valid", doc["outcome"])
		assert.Equal(t, "unique-match", doc["matchResult"])
		assert.Equal(t, map[string]any{"vitalStatus": "no-death-registered", "isRegistered": "yes"}, doc["answers"])
		assert.Contains(t, r.stdout, "for query "+doc["inResponseTo"].(string))
		assert.Equal(t, byte('\n'), saved[len(saved)-1])
		entries, err := os.ReadDir(q.dir)
		require.NoError(t, err)
		for _, e := range entries {
			assert.False(t, strings.HasPrefix(e.Name(), "."), "a temporary file was left behind: %s", e.Name())
		}
	})
	t.Run("ok/default-out-and-json", func(t *testing.T) {
		q := startQueryNet(t, queryNetOpts{})
		t.Chdir(q.dir)
		r := runIn(t, q.args("--question", "vital-status", "--json")...)
		require.Equal(t, exitOK, r.code, r.stderr)
		var res struct {
			Query, Node, File string
			Verdict           struct {
				Outcome, InResponseTo, MatchResult string
				Issuer                             struct{ Country string }
				Answers                            map[string]string
			}
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
		assert.Equal(t, "TJ-N1", res.Node)
		assert.Equal(t, "attestation-"+res.Query+".jws", res.File)
		assert.Equal(t, res.Query, res.Verdict.InResponseTo)
		assert.Equal(t, "TJ", res.Verdict.Issuer.Country)
		assert.Equal(t, "valid", res.Verdict.Outcome)
		assert.Equal(t, "unique-match", res.Verdict.MatchResult)
		assert.Equal(t, map[string]string{"vitalStatus": "no-death-registered"}, res.Verdict.Answers, "only the question asked is answered")
		_, err := os.Stat(filepath.Join(q.dir, res.File))
		require.NoError(t, err)
	})
	t.Run("refused/answer-to-another-query-not-saved", func(t *testing.T) {
		q := startQueryNet(t, queryNetOpts{})
		first := filepath.Join(q.dir, "first.jws")
		r := runIn(t, q.args("--question", "vital-status", "--out", first)...)
		require.Equal(t, exitOK, r.code, r.stderr)
		q.replayFirst.Store(true)
		out := filepath.Join(q.dir, "second.jws")
		r = runIn(t, q.args("--question", "vital-status", "--out", out)...)
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.Contains(t, r.stderr, "the answer of TJ-N1 does not verify, nothing was saved")
		assert.Regexp(t, `the attestation answers query \S+, not this query \S+`, r.stderr)
		assert.NoFileExists(t, out)
	})
	t.Run("refused/question-out-of-scope/QUERY_NOT_AUTHORIZED", func(t *testing.T) {
		q := startQueryNet(t, queryNetOpts{})
		out := filepath.Join(q.dir, "att.jws")
		r := runIn(t, q.args("--question", "civil-status", "--out", out)...)
		assert.Equal(t, exitInvalid, r.code, r.stderr)
		assert.Contains(t, r.stderr, "warning: question civil-status is not in INT-UNHCR's registered scope")
		assert.Contains(t, r.stderr, "QUERY_NOT_AUTHORIZED: TJ-N1 refused the query: question civil-status is not in the scope of requester INT-UNHCR")
		assert.Equal(t, int64(1), q.requests.Load(), "the node decides the scope: the query was sent")
		assert.NoFileExists(t, out)
	})
	t.Run("unreachable/node-key-not-the-registered-pin", func(t *testing.T) {
		q := startQueryNet(t, queryNetOpts{otherKey: true})
		r := runIn(t, q.args("--question", "vital-status")...)
		assert.Equal(t, exitUnreachable, r.code, r.stderr)
		assert.Len(t, errorLines(r.stderr), 1, "one line: %q", r.stderr)
		assert.Contains(t, r.stderr, "TJ-N1 at "+q.url+": its TLS key is not the one the bundle registers")
		assert.Contains(t, r.stderr, "nothing was sent")
		assert.Equal(t, int64(0), q.requests.Load(), "the query never reached the handler")
	})
	t.Run("unreachable/closed-port", func(t *testing.T) {
		q := startQueryNet(t, queryNetOpts{closed: true})
		r := runIn(t, q.args("--question", "vital-status")...)
		assert.Equal(t, exitUnreachable, r.code, r.stderr)
		assert.Len(t, errorLines(r.stderr), 1, "one line: %q", r.stderr)
		assert.Contains(t, r.stderr, "TJ-N1 at "+q.url+" cannot be reached")
	})
}

// TestQueryRefusesBadInputBeforeSending: every flag is checked, each with
// one clear line (exit 2), and what the bundle says cannot succeed is
// refused before anything is sent (exit 1).
func TestQueryRefusesBadInputBeforeSending(t *testing.T) {
	q := startQueryNet(t, queryNetOpts{})
	drop := func(flag string) []string {
		a := q.args("--question", "vital-status")
		for i, x := range a {
			if x == flag {
				return append(a[:i:i], a[i+2:]...)
			}
		}
		t.Fatalf("no flag %s", flag)
		return nil
	}
	set := func(flag, v string) []string {
		a := q.args("--question", "vital-status")
		for i, x := range a {
			if x == flag {
				a[i+1] = v
				return a
			}
		}
		return append(a, flag, v)
	}
	memberKey := filepath.Join(q.dir, "TJ.private.jwk")
	tj, err := jws.GenerateKey("TJ", jws.AlgES256)
	require.NoError(t, err)
	b, err := jws.MarshalPrivateJWK(tj)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(memberKey, b, 0o600))
	otherTLS := filepath.Join(q.dir, "other.tls.key")
	c, err := pintls.Generate("X", "")
	require.NoError(t, err)
	_, kp, err := pintls.Encode(c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(otherTLS, kp, 0o600))
	badSubject := filepath.Join(q.dir, "bad-subject.json")
	require.NoError(t, os.WriteFile(badSubject, []byte(`{"names": [{"script": "Latn", "fullName": "RUSTAM KARIMOV"}]}`), 0o644))

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"usage/no-key", drop("--key"), exitUsage, "--key REQUESTER.private.jwk is required"},
		{"usage/no-tls-key", drop("--tls-key"), exitUsage, "--tls-key REQUESTER.tls.key is required"},
		{"usage/no-to", drop("--to"), exitUsage, "--to CC is required"},
		{"usage/bad-to", set("--to", "tj"), exitUsage, "--to must be a member's ISO 3166-1 alpha-2 code"},
		{"usage/no-subject", drop("--subject"), exitUsage, "--subject FILE is required"},
		{"usage/no-question", q.args(), exitUsage, "--question is required"},
		{"usage/unknown-question", q.args("--question", "name"), exitUsage, `--question "name" is not a question of a status query`},
		{"usage/question-twice", q.args("--question", "vital-status", "--question", "vital-status"), exitUsage, "--question vital-status is given twice"},
		{"usage/no-purpose", drop("--purpose"), exitUsage, "--purpose is required"},
		{"usage/bad-purpose", set("--purpose", "curiosity"), exitUsage, `--purpose "curiosity" is not a purpose of a status query`},
		{"usage/no-basis", drop("--basis"), exitUsage, "--basis is required"},
		{"usage/bad-basis", set("--basis", "curiosity"), exitUsage, `--basis "curiosity" is not a consent basis`},
		{"usage/bad-obtained-at", set("--consent-obtained-at", "yesterday"), exitUsage, "is not an RFC 3339 time"},
		{"usage/obtained-at-in-the-future", set("--consent-obtained-at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), exitUsage, "is in the future"},
		{"usage/bad-method", set("--consent-method", "telepathy"), exitUsage, `--consent-method "telepathy" is not a consent method`},
		{"usage/long-case-ref", set("--case-ref", strings.Repeat("x", 65)), exitUsage, "at most 64 characters"},
		{"usage/no-bundle", drop("--bundle"), exitUsage, "--bundle BUNDLE.json is required"},
		{"usage/no-genesis-pin", drop("--genesis-sha256"), exitUsage, "--bundle needs the genesis pin"},
		{"usage/member-key-is-no-requester", set("--key", memberKey), exitUsage, "is a key of TJ, not of a requester"},
		{"usage/tls-key-not-a-key", set("--tls-key", q.subject), exitUsage, "holds no PEM private key"},
		{"refused/wrong-genesis-pin", set("--genesis-sha256", strings.Repeat("ab", 32)), exitInvalid, "starts from another genesis than the pinned one"},
		{"refused/tls-key-not-the-registered-pin", set("--tls-key", otherTLS), exitInvalid, "NODE_PIN_MISMATCH"},
		{"refused/member-without-node", set("--to", "UZ"), exitInvalid, "member UZ has no active node"},
		{"refused/subject-without-birth-date", set("--subject", badSubject), exitInvalid, badSubject + ": SCHEMA_REQUIRED /payload/subject/birthDate is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runIn(t, tc.args...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
		})
	}
	assert.Equal(t, int64(0), q.requests.Load(), "nothing reached the node")
}

func jwsPayload(t *testing.T, tok []byte) []byte {
	t.Helper()
	parts := strings.Split(string(tok), ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return b
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
