package attest_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpus")

// fuzzWorld is deterministic (Ed25519 keys from a seed), so that the
// committed corpus verifies against the same view on every run.
func fuzzWorld(tb testing.TB) (*trusttest.Network, *trust.View, time.Time) {
	n := trusttest.NewDeterministic(tb, "crvsx FuzzVerify attest", "TJ", "TR", "KZ")
	at := trusttest.GenesisTime.Time().Add(time.Hour)
	return n, trust.NewView(n.State()), at
}

func corpusFile(b []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
}

// fuzzCorpus is the seed corpus: attestations of each kind, valid and not.
func fuzzCorpus(tb testing.TB) map[string][]byte {
	n, _, at := fuzzWorld(tb)
	tj := n.Member("TJ").Sig
	build := func(edit func(a *attest.Answer)) []byte {
		a := answer(at)
		if edit != nil {
			edit(&a)
		}
		msg, err := attest.Build(a, "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e")
		if err != nil {
			tb.Fatal(err)
		}
		return msg
	}
	unique := sign(tb, tj, build(nil))
	return map[string][]byte{
		"ok-unique-match":       corpusFile(unique),
		"ok-no-match":           corpusFile(sign(tb, tj, build(func(a *attest.Answer) { a.MatchResult, a.Answers = attest.MatchNone, nil }))),
		"ok-refused":            corpusFile(sign(tb, tj, build(func(a *attest.Answer) { a.MatchResult, a.Answers, a.RefusalReason = attest.MatchRefused, nil, "policy" }))),
		"fail-tampered-payload": corpusFile(flipPayload(tb, unique)),
		"fail-tampered-sig":     corpusFile(flipSignature(tb, unique)),
		"fail-governance-key":   corpusFile(sign(tb, n.Member("TJ").Gov, build(nil))),
		"fail-not-compact":      corpusFile([]byte(`{"payload":"e30","signatures":[]}`)),
	}
}

// TestFuzzCorpusIsCurrent keeps testdata/fuzz/FuzzVerify equal to what
// fuzzCorpus mints (run with -update to rewrite it).
func TestFuzzCorpusIsCurrent(t *testing.T) {
	files := fuzzCorpus(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v: run go test -run TestFuzzCorpusIsCurrent -update ./protocol/attest/", err)
	}
	if len(entries) != len(files) {
		t.Fatalf("%d seed files, want %d: run with -update", len(entries), len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s missing or stale (%v): run with -update", name, err)
		}
	}
}

// FuzzVerify: Verify and IsAttestation never panic; every verdict has an
// outcome; a refusal has a code on the verdict and the error alike; a valid
// verdict has no error, a typ of an attestation and a plain sentence that
// starts with VALID.
func FuzzVerify(f *testing.F) {
	_, view, at := fuzzWorld(f)
	now := at.Add(time.Hour)
	f.Fuzz(func(t *testing.T, token []byte) {
		isAtt := attest.IsAttestation(token)
		v, err := attest.Verify(token, view, now)
		if v == nil {
			t.Fatalf("no verdict: %v", err)
		}
		s := v.String()
		if _, jerr := v.CanonicalJSON(); jerr != nil {
			t.Fatalf("verdict JSON: %v", jerr)
		}
		switch v.Outcome {
		case attest.OutcomeValid:
			if err != nil || !isAtt || !strings.HasPrefix(s, "VALID — ") {
				t.Fatalf("valid with err %v, typ %v, %q", err, isAtt, s)
			}
		case attest.OutcomeExpired, attest.OutcomeNotValid:
			if protocol.CodeOf(err) == "" || protocol.CodeOf(err) != v.Code {
				t.Fatalf("refusal %s without its code: %v", v.Outcome, err)
			}
		default:
			t.Fatalf("outcome %q", v.Outcome)
		}
	})
}
