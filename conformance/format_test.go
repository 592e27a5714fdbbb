package conformance

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// sampleReport is a small report with one failed module whose observed
// answer is hostile: markup, control characters, a forged report line.
func sampleReport() *Report {
	t0 := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	return &Report{
		Format: ReportFormat, Suite: Version, Network: strings.Repeat("ab", 32), Candidate: "UZ", Node: "UZ-CANDIDATE",
		Target: "https://127.0.0.1:9443", Started: t0, Finished: t0.Add(42 * time.Second),
		Results: []Result{
			{Plan: PlanReceiver, Module: "baseline/accepted-with-a-signed-receipt", Cite: "SPEC §6, §8", Passed: true, Took: 0.125},
			{Plan: PlanReceiver, Module: "jws/fail/alg-none", Cite: "SPEC §6.3.2; RFC 8725 §3.1", Passed: false,
				Failures: []Condition{{Check: "the answer is a problem document", Expected: "400 ALG_NOT_ALLOWED",
					Observed: "200 <script>alert(1)</script>\nPASS  receiver/forged & \"quoted\""}},
				Request: "eyJhbGciOiJub25lIn0.e30.", Answer: "200 \x1b[2Jrecorded", Took: 0.5},
			{Plan: PlanSender, Module: "delivered-only-on-a-valid-receipt/wrong-digest", Cite: "SPEC §8.3", Passed: true, Took: 3},
			{Plan: PlanRegistry, Module: "replica/follows", Cite: "REGISTRY.md §10", Passed: true, Took: 1.25},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./conformance -run TestReportFormats -update")
	assert.Equal(t, string(want), string(got), "%s differs from the golden file (go test -update rewrites it)", name)
}

func TestReportFormats(t *testing.T) {
	r := sampleReport()
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"report.json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
		{"report.txt", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }},
		{"report.xml", func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) }},
		{"report.html", func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, f.write(&b, r))
			golden(t, f.name, b.Bytes())
		})
	}
}

func TestJSONReportRoundTripsCanonically(t *testing.T) {
	b, err := MarshalReport(sampleReport())
	require.NoError(t, err)
	r, err := ParseReport(b)
	require.NoError(t, err)
	assert.Equal(t, sampleReport(), r)
	again, err := MarshalReport(r)
	require.NoError(t, err)
	assert.Equal(t, b, again)
	assert.Len(t, ReportSHA256(b), 64)
	assert.NotEqual(t, ReportSHA256(b), ReportSHA256(append(b, ' ')))
}

func TestParseReportRefuses(t *testing.T) {
	canon, err := MarshalReport(sampleReport())
	require.NoError(t, err)
	s := string(canon)
	edit := func(f func(r *Report)) []byte {
		r := sampleReport()
		f(r)
		b, err := MarshalReport(r)
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"over-the-size-limit", append(canon, bytes.Repeat([]byte(" "), MaxReportBytes)...), "over the limit"},
		{"not-json", []byte("<html>"), "invalid character"},
		{"unknown-member", []byte(strings.Replace(s, `"suite"`, `"extra": 1, "suite"`, 1)), "unknown field"},
		{"data-after-the-report", append(append([]byte{}, canon...), []byte("{}")...), "data after"},
		{"re-indented", reindented(t, canon), "canonical"},
		{"member-twice", []byte(strings.Replace(s, `"suite": `, `"candidate": "TJ", "suite": `, 1)), "canonical"},
		{"html-escaped", []byte(strings.Replace(s, "<script>", `\u003cscript\u003e`, 1)), "canonical"},
		{"another-format", edit(func(r *Report) { r.Format = "junit" }), "format"},
		{"no-suite", edit(func(r *Report) { r.Suite = "" }), "suite"},
		{"no-candidate", edit(func(r *Report) { r.Candidate = "" }), "candidate"},
		{"finished-before-started", edit(func(r *Report) { r.Finished = r.Started.Add(-time.Second) }), "finished"},
		{"unknown-plan", edit(func(r *Report) { r.Results[0].Plan = "responder" }), "unknown plan"},
		{"module-twice", edit(func(r *Report) { r.Results[1].Module = r.Results[0].Module }), "twice"},
		{"passed-with-failures", edit(func(r *Report) { r.Results[1].Passed = true }), "passed is true"},
		{"failed-without-failures", edit(func(r *Report) { r.Results[0].Passed = false }), "passed is false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseReport(tc.in)
			require.ErrorIs(t, err, ErrReport)
			assert.Nil(t, r)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func reindented(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, compactJSON(b), "", "    "))
	return append(out.Bytes(), '\n')
}

func TestHTMLReportEscapesAndPutsFailuresFirst(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, sampleReport()))
	h := b.String()
	assert.NotContains(t, h, "<script>alert", "a value from the candidate is markup")
	assert.Contains(t, h, "&lt;script&gt;alert(1)&lt;/script&gt;")
	verdict := strings.Index(h, "FAILED: UZ&#39;s node UZ-CANDIDATE failed 1 of 4 checks")
	failed := strings.Index(h, "What failed")
	all := strings.Index(h, "Every check, by area")
	require.Positive(t, verdict)
	assert.Less(t, verdict, failed, "the verdict comes first")
	assert.Less(t, failed, all, "then the failures, then every check")
	for _, s := range []string{"400 ALG_NOT_ALLOWED", "SPEC §6.3.2; RFC 8725 §3.1", "eyJhbGciOiJub25lIn0.e30.", "Receiving messages from other members"} {
		assert.Contains(t, h, s)
	}
	assert.NotContains(t, h, "\x1b", "a control character from the candidate reached the page")
	assert.Contains(t, h, `200 \x1b[2Jrecorded`)
	assert.NotContains(t, h, "<link", "self-contained")
	assert.NotContains(t, h, "src=", "self-contained")

	b.Reset()
	ok := sampleReport()
	ok.Results = append(ok.Results[:1], ok.Results[2:]...)
	require.NoError(t, WriteHTML(&b, ok))
	assert.Contains(t, b.String(), "PASSED: UZ&#39;s node UZ-CANDIDATE passed all 3 checks")
	assert.NotContains(t, b.String(), "What failed")
}

func TestJUnitReportParsesWithItsCounts(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJUnit(&b, sampleReport()))
	var got junitSuites
	require.NoError(t, xml.Unmarshal(b.Bytes(), &got), b.String())
	assert.Equal(t, 4, got.Tests)
	assert.Equal(t, 1, got.Failures)
	require.Len(t, got.Suites, 3)
	assert.Equal(t, PlanReceiver, got.Suites[0].Name)
	assert.Equal(t, 1, got.Suites[0].Failures)
	require.NotNil(t, got.Suites[0].Cases[1].Failure)
	assert.Contains(t, got.Suites[0].Cases[1].Failure.Body, "<script>alert(1)</script>", "text survives the XML escaping")
	assert.Nil(t, got.Suites[0].Cases[0].Failure)
	assert.Equal(t, "0.625", got.Suites[0].Time)
}

func TestTextReportKeepsOneLineEach(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, sampleReport()))
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for _, l := range lines {
		assert.NotContains(t, l, "\x1b", "a control character from the candidate reached the terminal")
		assert.False(t, strings.HasPrefix(l, "PASS  receiver/forged"), "an answer forged a report line")
	}
	assert.Equal(t, "FAILED: UZ's node UZ-CANDIDATE failed 1 of 4 checks", lines[len(lines)-1])
}

func FuzzParseReport(f *testing.F) {
	canon, err := MarshalReport(sampleReport())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(canon)
	f.Add([]byte(`{"format":"crvsx-conformance-report/1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err != nil {
			return
		}
		again, err := MarshalReport(r)
		if err != nil {
			t.Fatalf("an accepted report does not marshal: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("an accepted report is not canonical")
		}
		for _, w := range []func(*bytes.Buffer, *Report) error{
			func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) },
			func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) },
			func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) },
		} {
			var out bytes.Buffer
			if err := w(&out, r); err != nil {
				t.Fatalf("an accepted report does not render: %v", err)
			}
		}
	})
}
