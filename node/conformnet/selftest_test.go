package conformnet

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
)

// variants are the broken nodes of the self-test (conformance/DESIGN.md
// §7), each without one defence.
func variants() []*variant {
	senderCountry := func(c *call) string {
		parts := strings.Split(string(c.body), ".")
		if len(parts) != 3 {
			return ""
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var m struct{ Sender protocol.Endpoint }
		_ = json.Unmarshal(raw, &m)
		return m.Sender.Country
	}
	kidMember := func(c *call) string {
		kid, _ := c.header["kid"].(string)
		m, _, _ := strings.Cut(kid, ":")
		return m
	}
	resign := func(c *call, digest func(string) string) *reply {
		if c.rec.Code != 200 {
			return nil
		}
		h := protectedHeader(c.rec.Body.Bytes())
		parts := strings.Split(c.rec.Body.String(), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		d, _ := h[protocol.HeaderReceiptDigest].(string)
		tok, err := c.signer.SignWithHeader(protocol.TypReceipt, map[string]any{protocol.HeaderReceiptDigest: digest(d)}, payload)
		if err != nil {
			panic(err)
		}
		return &reply{200, protocol.MediaTypeJOSE, tok}
	}
	return []*variant{
		{name: "accepts a header alg that is not its key's (RFC 8725 §3.1)", catches: []string{"receiver/jws/fail/header-alg-differs-from-key"}, peer: acceptOn(nil, protocol.CodeAlgKeyMismatch)},
		{name: "accepts alg none", catches: []string{"receiver/jws/fail/alg-none", "receiver/jws/fail/alg-none-mixed-case"}, peer: acceptOn(nil, protocol.CodeAlgNone)},
		{name: "accepts algorithms outside the profile, or none named", catches: []string{"receiver/jws/fail/alg-hs256", "receiver/jws/fail/alg-lowercase", "receiver/jws/fail/alg-missing", "receiver/jws/fail/alg-not-string"}, peer: acceptOn(nil, protocol.CodeAlgNotAllowed, protocol.CodeAlgMissing)},
		{name: "ignores crit", catches: []string{"receiver/jws/fail/crit-present"}, peer: acceptOn(has("crit"), protocol.CodeHeaderForbidden)},
		{name: "trusts keys and key references in the header", catches: []string{"receiver/jws/fail/jku-present", "receiver/jws/fail/jwk-present", "receiver/jws/fail/x5c-present", "receiver/jws/fail/x5t-present", "receiver/jws/fail/x5t-s256-present", "receiver/jws/fail/x5u-present", "receiver/jws/key-urls-never-fetched"}, peer: acceptOn(has("jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"), protocol.CodeHeaderForbidden)},
		{name: "honours b64 and zip", catches: []string{"receiver/jws/fail/b64-present", "receiver/jws/fail/zip-present"}, peer: acceptOn(has("b64", "zip"), protocol.CodeHeaderForbidden)},
		{name: "fetches the key URLs in the header", catches: []string{"receiver/jws/key-urls-never-fetched"}, peer: func(c *call) *reply {
			for _, m := range []string{"jku", "x5u"} {
				if u, ok := c.header[m].(string); ok && strings.HasPrefix(u, "http://127.0.0.1:") {
					hc := &http.Client{Timeout: 2 * time.Second}
					if resp, err := hc.Get(u); err == nil {
						resp.Body.Close()
					}
				}
			}
			return nil
		}},
		{name: "accepts JSON serializations and detached or extra segments", catches: []string{"receiver/jws/fail/empty-payload", "receiver/jws/fail/five-segments", "receiver/jws/fail/flattened-json", "receiver/jws/fail/four-segments", "receiver/jws/fail/general-json", "receiver/jws/fail/two-segments"}, peer: acceptOn(nil, protocol.CodeNotCompact, protocol.CodeEmptyPayload)},
		{name: "accepts non-canonical base64url", catches: []string{"receiver/jws/fail/line-break", "receiver/jws/fail/nonzero-pad-bits", "receiver/jws/fail/padded-base64", "receiver/jws/fail/plus-slash-base64", "receiver/jws/fail/trailing-newline", "receiver/jws/fail/whitespace"}, peer: acceptOn(nil, protocol.CodeBadBase64)},
		{name: "accepts malformed or duplicated header members", catches: []string{"receiver/jws/fail/duplicate-header-name", "receiver/jws/fail/duplicate-header-name-escaped", "receiver/jws/fail/empty-header", "receiver/jws/fail/header-invalid-utf8", "receiver/jws/fail/header-not-object", "receiver/jws/fail/header-too-large"}, peer: acceptOn(nil, protocol.CodeHeaderJSON, protocol.CodeHeaderDup)},
		{name: "accepts a missing or hostile kid", catches: []string{"receiver/jws/fail/kid-empty", "receiver/jws/fail/kid-missing", "receiver/jws/fail/kid-not-printable-ascii", "receiver/jws/fail/kid-not-string", "receiver/jws/fail/kid-too-long"}, peer: acceptOn(nil, protocol.CodeKidMissing, protocol.CodeKidInvalid)},
		{name: "does not check signatures", catches: []string{"receiver/jws/fail/der-signature", "receiver/jws/fail/empty-signature", "receiver/jws/fail/signature-by-other-key", "receiver/jws/fail/signature-truncated", "receiver/jws/fail/tampered-header", "receiver/jws/fail/tampered-payload", "receiver/jws/fail/tampered-signature"}, peer: acceptOn(nil, protocol.CodeSignatureInvalid, protocol.CodeSignatureLength, protocol.CodeEmptySignature)},
		{name: "skips schema validation", catches: []string{"receiver/payload/schema/bad-code", "receiver/payload/schema/extra-property", "receiver/payload/schema/huge-string", "receiver/payload/schema/missing-required-member", "receiver/payload/schema/unknown-message-type", "receiver/payload/schema/unknown-schema-version"}, peer: acceptOn(nil, protocol.CodeSchemaInvalid, protocol.CodeSchemaVersion, protocol.CodeMessageType)},
		{name: "skips the semantic rules", catches: []string{"receiver/payload/semantic/bidi-control-in-a-name", "receiver/payload/semantic/check-digit", "receiver/payload/semantic/date-after-created-at", "receiver/payload/semantic/registration-before-the-event"}, peer: acceptOn(nil, protocol.CodeSemanticInvalid)},
		{name: "parses JSON leniently (I-JSON, NFC)", catches: []string{"receiver/payload/json/deep-nesting", "receiver/payload/json/duplicate-member-name", "receiver/payload/json/invalid-utf8", "receiver/payload/json/not-nfc", "receiver/payload/json/number-past-2^53", "receiver/payload/json/trailing-data"}, peer: acceptOn(nil, protocol.CodePayloadJSON, protocol.CodePayloadUTF8, protocol.CodePayloadDup,
			protocol.CodePayloadTooDeep, protocol.CodePayloadNumber, protocol.CodePayloadNotNFC)},
		{name: "accepts any member's key for any sender", catches: []string{"receiver/binding/key-of-another-member"}, peer: func(c *call) *reply {
			if c.code == protocol.CodeSenderMismatch && kidMember(c) != senderCountry(c) {
				return c.accept()
			}
			return nil
		}},
		{name: "ignores the mTLS peer", catches: []string{"receiver/binding/mtls-peer-is-not-the-sender"}, peer: func(c *call) *reply {
			if c.code == protocol.CodeSenderMismatch && kidMember(c) == senderCountry(c) {
				return c.accept()
			}
			return nil
		}},
		{name: "accepts TLS clients whose key is not registered", catches: []string{"receiver/binding/no-tls-client-key", "receiver/binding/unregistered-tls-key"}, peer: acceptOn(nil, protocol.CodeNodePinMismatch)},
		{name: "accepts keys of unknown or never-admitted members", catches: []string{"receiver/binding/never-admitted-member", "receiver/jws/fail/kid-unknown"}, peer: acceptOn(nil, protocol.CodeKeyUnknown)},
		{name: "ignores key validity (retired, revoked, not yet valid, expired)", catches: []string{"receiver/keys/compromised-key-signed-after-the-compromise", "receiver/keys/key-expired", "receiver/keys/key-not-yet-valid", "receiver/keys/retired-key-signed-after-retirement"}, peer: acceptOn(nil, protocol.CodeKeyNotValid)},
		{name: "ignores the createdAt window", catches: []string{"receiver/time/created-at-in-the-future", "receiver/time/created-at-too-old"}, peer: acceptOn(nil, protocol.CodeTooOld, protocol.CodeFromFuture)},
		{name: "ignores typ", catches: []string{"receiver/jws/fail/typ-missing", "receiver/jws/fail/typ-not-string", "receiver/jws/fail/typ-wrong"}, peer: acceptOn(nil, protocol.CodeTypMismatch, protocol.CodeTypeMismatch)},
		{name: "accepts messages for another recipient", catches: []string{"receiver/binding/wrong-recipient"}, peer: acceptOn(nil, protocol.CodeRecipientMismatch)},
		{name: "has no size limit", catches: []string{"receiver/http/body-over-the-limit-refused-before-reading", "receiver/jws/fail/oversize"}, peer: acceptOn(nil, protocol.CodeTooLarge)},
		{name: "reads the whole body before its size check", catches: []string{"receiver/http/body-over-the-limit-refused-before-reading"}, before: func(w http.ResponseWriter, r *http.Request) bool {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return true
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			return false
		}},
		{name: "ignores the content type and method", catches: []string{"receiver/http/wrong-content-type", "receiver/http/wrong-method"}, peer: func(c *call) *reply {
			if c.code == protocol.CodeUnsupported || c.r.Method != http.MethodPost {
				return c.accept()
			}
			return nil
		}},
		{name: "skips replay detection (a new receipt for a replay)", catches: []string{"receiver/idempotency/exact-replay-returns-the-same-receipt", "receiver/idempotency/ten-parallel-submissions-one-receipt"}, peer: func(c *call) *reply {
			if !c.seen {
				return nil
			}
			return resign(c, func(d string) string { return d })
		}},
		{name: "ignores messageId conflicts", catches: []string{"receiver/idempotency/same-id-other-content-is-a-conflict"}, peer: acceptOn(nil, protocol.CodeConflict)},
		{name: "signs receipts with the wrong digest", catchesAll: func(m string) bool {
			return strings.HasPrefix(m, "receiver/") && m != "receiver/http/wrong-method" || m == "registry/replica/applies-a-new-key"
		}, peer: func(c *call) *reply {
			return resign(c, func(string) string { return strings.Repeat("0", 64) })
		}},
		{name: "refuses unknown non-critical header members (over-strict)", catches: []string{"receiver/jws/ok/unknown-noncritical-header"}, peer: func(c *call) *reply {
			for k := range c.header {
				if c.rec.Code == 200 && k != "alg" && k != "kid" && k != "typ" {
					return refuse(protocol.CodeHeaderForbidden)
				}
			}
			return nil
		}},
		{name: "compares typ exactly (over-strict)", catches: []string{"receiver/jws/ok/typ-application-prefix", "receiver/jws/ok/typ-case-insensitive"}, peer: func(c *call) *reply {
			if typ, _ := c.header["typ"].(string); c.rec.Code == 200 && typ != protocol.TypEvent {
				return refuse(protocol.CodeTypMismatch)
			}
			return nil
		}},
		{name: "refuses high-S ECDSA signatures (over-strict)", catches: []string{"receiver/jws/ok/es256-malleated-signature"}, peer: func(c *call) *reply {
			parts := strings.Split(string(c.body), ".")
			if c.rec.Code != 200 || len(parts) != 3 {
				return nil
			}
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
			if len(sig) == 64 && new(big.Int).SetBytes(sig[32:]).Cmp(half) > 0 {
				return refuse(protocol.CodeSignatureInvalid)
			}
			return nil
		}},
		{name: "refuses keys added after the genesis (does not follow the registry)", catches: []string{"receiver/keys/compromised-key-signed-before-the-compromise", "receiver/keys/retired-key-signed-before-retirement", "registry/replica/applies-a-new-key"}, peer: func(c *call) *reply {
			if kid, _ := c.header["kid"].(string); c.rec.Code == 200 && !c.genesisKids[kid] {
				return refuse(protocol.CodeKeyUnknown)
			}
			return nil
		}},
		{name: "serves a trust bundle without its newest entry", catches: []string{"registry/replica/bundle-replays-to-its-state"}, other: func(path string, body []byte) []byte {
			if path != "/v1/registry/bundle" {
				return body
			}
			b, err := trust.ParseBundle(body)
			if err != nil || len(b.Entries) == 0 {
				return body
			}
			b.Entries = b.Entries[:len(b.Entries)-1]
			out, err := b.Marshal()
			if err != nil {
				return body
			}
			return out
		}},
		{name: "does not fail closed when its registry is stale", catches: []string{"registry/replica/cut-off-reports-staleness-and-fails-closed"}, registry: true, peer: acceptOn(nil, protocol.CodeRegistryStale, protocol.CodeUnavailable)},
		{name: "marks a delivery done on a bad receipt", catches: []string{"sender/delivery/not-completed-on-a-receipt-for-another-message", "sender/delivery/not-completed-on-a-receipt-signed-by-another-member", "sender/delivery/not-completed-on-a-receipt-unsigned", "sender/delivery/not-completed-on-a-receipt-wrong-digest"}, local: func(path string, body []byte) []byte {
			return rewriteStates(path, body, func(st string, attempts int) string {
				if st == "pending" && attempts > 0 {
					return "delivered"
				}
				return st
			})
		}},
		{name: "never takes a receipt for a delivery", catches: []string{"sender/delivery/completed-on-a-valid-receipt", "sender/delivery/not-completed-on-a-receipt-for-another-message", "sender/delivery/not-completed-on-a-receipt-signed-by-another-member", "sender/delivery/not-completed-on-a-receipt-unsigned", "sender/delivery/not-completed-on-a-receipt-wrong-digest"}, local: func(path string, body []byte) []byte {
			return rewriteStates(path, body, func(st string, _ int) string {
				if st == "delivered" {
					return "dead"
				}
				return st
			})
		}},
	}
}

// cutOffModule is the registry plan's module that stops the suite's
// voters for longer than the staleness bound.
const cutOffModule = "registry/replica/cut-off-reports-staleness-and-fails-closed"

// TestSuiteSelfTest runs the suite against our node (every module must
// pass) and against each broken variant (each must fail exactly the
// modules it lists), and checks that every module catches at least one
// variant (conformance/DESIGN.md §7). The variants run on three networks
// at once (a run mostly waits). The per-module table is conformance/SELFTEST.md.
func TestSuiteSelfTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	const workers = 3
	fixtures := make([]*fixture, workers)
	var wg sync.WaitGroup
	for i := range fixtures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fixtures[i] = newFixture(ctx, t)
		}()
	}
	wg.Wait()
	for _, f := range fixtures {
		if f == nil {
			t.FailNow()
		}
	}
	defer func() {
		for _, f := range fixtures {
			f.close()
		}
	}()
	if base := fixtures[0].run(ctx, t, nil); len(base) != 0 {
		t.Fatalf("our node fails %v", keys(base))
	}
	vs := variants()
	results := make([]map[string]bool, len(vs))
	next := make(chan int)
	go func() {
		for i := range vs {
			next <- i
		}
		close(next)
	}()
	for _, f := range fixtures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = f.run(ctx, t, vs[i])
			}
		}()
	}
	wg.Wait()
	caughtBy := map[string][]string{}
	for i, v := range vs {
		got := keys(results[i])
		for _, m := range got {
			caughtBy[m] = append(caughtBy[m], v.name)
		}
		if len(got) == 0 {
			t.Errorf("variant %q: the suite passes it", v.name)
		}
		want := slices.Clone(v.catches)
		if v.catchesAll != nil {
			for _, r := range fixtures[0].last.Results {
				if m := r.Plan + "/" + r.Module; v.catchesAll(m) {
					want = append(want, m)
				}
			}
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("variant %q fails\n  %s\nwant\n  %s", v.name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	var table strings.Builder
	table.WriteString("| module | broken variants it catches |\n|---|---|\n")
	rep := fixtures[0].last
	for _, r := range rep.Results {
		m := r.Plan + "/" + r.Module
		if len(caughtBy[m]) == 0 {
			t.Errorf("module %s catches no broken variant: a check that catches nothing is a defect of the suite", m)
		}
		fmt.Fprintf(&table, "| %s | %s |\n", m, strings.Join(caughtBy[m], "; "))
	}
	t.Logf("modules and the variants they catch:\n%s", table.String())
	checkSelftestDoc(t, table.String())
}

var update = flag.Bool("update", false, "rewrite conformance/SELFTEST.md from the self-test")

// selftestDoc is the published table of which module catches which broken
// variant; the self-test keeps it true.
const selftestDoc = "../../conformance/SELFTEST.md"

const selftestIntro = `# The conformance suite's self-test

Generated by ` + "`go test ./node/conformnet -run TestSuiteSelfTest -update`" + `; the test fails
when this table and the suite disagree (conformance/DESIGN.md §7).

The self-test runs the suite against our node — every module passes — and against
broken variants of it: middleware around the node's real handlers, each removing one
defence (node/conformnet/selftest_test.go). Each variant must fail exactly the modules
listed for it and no others, and every module must catch at least one variant.

`

func checkSelftestDoc(t *testing.T, table string) {
	want := selftestIntro + table
	if *update {
		if err := os.WriteFile(selftestDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(selftestDoc)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is not what the self-test found: run go test ./node/conformnet -run TestSuiteSelfTest -update", selftestDoc)
	}
}

// fixture is one suite network and a candidate node whose defences the
// harness switches off one at a time.
type fixture struct {
	s           *conformance.Suite
	net         *Net
	h           *harness
	local, tok  string
	genesisKids map[string]bool
	stop        func()
	last        *conformance.Report
}

func newFixture(ctx context.Context, t *testing.T) *fixture {
	dir := t.TempDir()
	fail := func(err error) *fixture {
		t.Error(err)
		return nil
	}
	if err := Init(dir, Options{Candidate: "UZ"}); err != nil {
		return fail(err)
	}
	s, err := conformance.LoadSuite(dir)
	if err != nil {
		return fail(err)
	}
	ends, err := trust.ParseEndorsementsFile(s.Endorsements, s.Genesis)
	if err != nil {
		return fail(err)
	}
	g, err := trust.ParseGenesis(s.Genesis, ends)
	if err != nil {
		return fail(err)
	}
	f := &fixture{s: s, genesisKids: map[string]bool{}}
	f.h = &harness{seen: map[string]bool{}, genesisKids: f.genesisKids}
	for _, m := range g.Document().Members {
		for _, k := range m.Keys {
			var j struct{ Kid string }
			_ = json.Unmarshal(k.JWK, &j)
			f.genesisKids[j.Kid] = true
		}
	}
	cfg, err := node.LoadConfig(filepath.Join(dir, s.Candidate.Config))
	if err != nil {
		return fail(err)
	}
	if f.net, err = Start(ctx, s, nil); err != nil {
		return fail(err)
	}
	cand, err := node.New(ctx, cfg, nil, node.WithMiddleware("peer", f.h.peerMiddleware), node.WithMiddleware("local", f.h.localMiddleware))
	if err != nil {
		f.net.Close()
		return fail(err)
	}
	f.h.signer = cand.Signer
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- cand.Run(runCtx) }()
	f.stop = func() { stop(); <-done }
	<-cand.Ready()
	tokFile, err := os.ReadFile(filepath.Join(dir, s.Candidate.TokensFile))
	if err == nil {
		f.tok, err = server.FirstToken(tokFile)
	}
	if err != nil {
		f.close()
		return fail(err)
	}
	f.local = "http://" + cfg.Listen.Local
	return f
}

func (f *fixture) close() {
	f.stop()
	f.net.Close()
}

// run runs the suite with variant v (nil: our node as it is) and returns
// the modules that failed. Except for the variants that need it, the
// registry plan's cut-off module is left out: it takes longer than the
// policy's staleness bound, and no other variant touches the registry.
func (f *fixture) run(ctx context.Context, t *testing.T, v *variant) map[string]bool {
	f.h.cur.Store(v)
	defer f.h.cur.Store(nil)
	target := conformance.Target{Suite: f.s, Net: f.net, LocalURL: f.local, LocalToken: f.tok}
	if v != nil && !v.registry {
		target.Only = regexp.MustCompile(`^(receiver|sender)/|^registry/replica/(bundle|applies)`)
	}
	rep, err := conformance.Run(ctx, target)
	if err != nil {
		t.Errorf("%v: %v", v, err)
		return map[string]bool{"(the run did not complete)": true}
	}
	if v == nil {
		f.last = rep
	}
	failed := map[string]bool{}
	for _, r := range rep.Results {
		if !r.Passed {
			failed[r.Plan+"/"+r.Module] = true
		}
	}
	return failed
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
