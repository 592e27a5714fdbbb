package conformance

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The report formats (DESIGN.md §6). The JSON form is the record: its
// canonical bytes are what `crvsx conform certify` hashes into the
// certificate's reportSha256, so a report is refused unless it is exactly
// what WriteJSON writes for it. Text, JUnit XML and HTML are views of it.

// MaxReportBytes bounds a report read back (ParseReport): a full run is
// about 150 KB; requests and answers in it are clipped.
const MaxReportBytes = 8 << 20

// ErrReport is the family of errors of a report that is not one this
// suite writes: malformed, of another format, inconsistent, or not in its
// canonical form.
var ErrReport = errors.New("conformance: not a valid report")

// WriteJSON writes r in its canonical form: the fields in the order of
// Report, indented by two spaces, HTML characters not escaped, one final
// newline.
func WriteJSON(w io.Writer, r *Report) error {
	b, err := MarshalReport(r)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// MarshalReport returns the canonical bytes of r (WriteJSON).
func MarshalReport(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseReport reads a JSON report strictly: at most MaxReportBytes, no
// unknown or duplicate members, nothing after it, a known format, the
// consistency rules of Validate, and the canonical form — the bytes must
// be exactly what WriteJSON writes for the report they hold, so that one
// report has one hash.
func ParseReport(b []byte) (*Report, error) {
	if len(b) > MaxReportBytes {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrReport, len(b), MaxReportBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReport, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the report", ErrReport)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	canon, err := MarshalReport(&r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReport, err)
	}
	if !bytes.Equal(canon, b) {
		return nil, fmt.Errorf("%w: not in the canonical form `crvsx conform run --format json` writes (edited, re-indented, or a member twice)", ErrReport)
	}
	return &r, nil
}

// Validate checks that r is consistent: its format, the suite and
// candidate named, every result of a known plan with a module name, and
// passed exactly when no condition failed.
func (r *Report) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrReport}, args...)...)
	}
	switch {
	case r.Format != ReportFormat:
		return bad("format %q, want %q", r.Format, ReportFormat)
	case r.Suite == "":
		return bad("no suite version")
	case r.Candidate == "" || r.Node == "":
		return bad("no candidate member or node")
	case r.Started.IsZero() || r.Finished.Before(r.Started):
		return bad("started %s, finished %s", r.Started, r.Finished)
	}
	seen := map[string]bool{}
	for i, x := range r.Results {
		if x.Plan != PlanReceiver && x.Plan != PlanSender && x.Plan != PlanRegistry {
			return bad("result %d: unknown plan %q", i, x.Plan)
		}
		if x.Module == "" {
			return bad("result %d: no module name", i)
		}
		id := x.Plan + "/" + x.Module
		if seen[id] {
			return bad("%s twice", id)
		}
		seen[id] = true
		if x.Passed != (len(x.Failures) == 0) {
			return bad("%s: passed is %t with %d failed conditions", id, x.Passed, len(x.Failures))
		}
	}
	return nil
}

// ReportSHA256 is the hex SHA-256 of a report's bytes: the reportSha256 of
// a certificate.
func ReportSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Failed returns the results that did not pass, in report order.
func (r *Report) Failed() []Result {
	var out []Result
	for _, x := range r.Results {
		if !x.Passed {
			out = append(out, x)
		}
	}
	return out
}

// verdict is the report's one-line outcome.
func (r *Report) verdict() string {
	passed, failed := r.Counts()
	switch {
	case len(r.Results) == 0:
		return "NO CHECKS RAN: nothing was tested"
	case failed == 0:
		return fmt.Sprintf("PASSED: %s's node %s passed all %d checks", r.Candidate, r.Node, passed)
	}
	return fmt.Sprintf("FAILED: %s's node %s failed %d of %d checks", r.Candidate, r.Node, failed, passed+failed)
}

// WriteText writes the report for a terminal: one line a module, the
// unmet conditions under a failed one, and the verdict last.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s against %s (member %s, node %s), %s\n", r.Suite, r.Target, r.Candidate, r.Node, r.Started.Format(time.RFC3339))
	for _, x := range r.Results {
		st := "PASS"
		if !x.Passed {
			st = "FAIL"
		}
		fmt.Fprintf(&b, "%s  %s/%s  (%s)\n", st, x.Plan, x.Module, x.Cite)
		for _, c := range x.Failures {
			fmt.Fprintf(&b, "      %s: expected %s; observed %s\n", oneLine(c.Check), oneLine(c.Expected), oneLine(c.Observed))
		}
		if !x.Passed {
			if x.Request != "" {
				fmt.Fprintf(&b, "      request: %s\n", oneLine(x.Request))
			}
			if x.Answer != "" {
				fmt.Fprintf(&b, "      answer:  %s\n", oneLine(x.Answer))
			}
		}
	}
	fmt.Fprintf(&b, "%s\n", r.verdict())
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a value on one terminal line: control characters are
// shown escaped, so an answer cannot forge report lines.
func oneLine(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// The JUnit XML schema as CI systems read it (the de-facto Ant format).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a test suite per plan, a test
// case per module, a failure per failed module with its conditions.
func WriteJUnit(w io.Writer, r *Report) error {
	secs := func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }
	passed, failed := r.Counts()
	out := junitSuites{Name: r.Suite, Tests: passed + failed, Failures: failed, Time: secs(r.Finished.Sub(r.Started).Seconds())}
	byPlan := map[string]*junitSuite{}
	took := map[string]float64{}
	var order []string
	for _, x := range r.Results {
		s := byPlan[x.Plan]
		if s == nil {
			s = &junitSuite{Name: x.Plan, Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05"), Properties: []junitProperty{
				{"suite", r.Suite}, {"network", r.Network}, {"candidate", r.Candidate}, {"node", r.Node}, {"target", r.Target}}}
			byPlan[x.Plan] = s
			order = append(order, x.Plan)
		}
		c := junitCase{Name: x.Module, Classname: "conformance." + x.Plan, Time: secs(x.Took)}
		took[x.Plan] += x.Took
		s.Time = secs(took[x.Plan])
		s.Tests++
		if !x.Passed {
			s.Failures++
			var body strings.Builder
			fmt.Fprintf(&body, "requirement: %s\n", x.Cite)
			for _, f := range x.Failures {
				fmt.Fprintf(&body, "%s: expected %s; observed %s\n", f.Check, f.Expected, f.Observed)
			}
			if x.Request != "" {
				fmt.Fprintf(&body, "request: %s\n", x.Request)
			}
			if x.Answer != "" {
				fmt.Fprintf(&body, "answer: %s\n", x.Answer)
			}
			c.Failure = &junitFailure{Message: x.Failures[0].Check, Type: x.Cite, Body: body.String()}
		}
		s.Cases = append(s.Cases, c)
	}
	for _, p := range order {
		out.Suites = append(out.Suites, *byPlan[p])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

//go:embed report.html.tmpl
var reportTemplates embed.FS

var htmlReport = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"planTitle": planTitle,
	"visible":   visible,
	"checks": func(n int) string {
		if n == 1 {
			return "1 check"
		}
		return strconv.Itoa(n) + " checks"
	},
	"when": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
	"duration": func(a, b time.Time) string {
		return b.Sub(a).Round(time.Second).String()
	},
}).ParseFS(reportTemplates, "report.html.tmpl"))

// visible shows control characters other than line breaks and tabs as
// escapes (\x1b): an answer from the candidate is shown, never obeyed.
func visible(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError, unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// planTitle says in plain words what a plan tests.
func planTitle(plan string) string {
	switch plan {
	case PlanReceiver:
		return "Receiving messages from other members"
	case PlanSender:
		return "Sending messages and handling receipts"
	case PlanRegistry:
		return "Following the network's registry of members and keys"
	}
	return plan
}

// WriteHTML writes the report as one self-contained HTML page for the
// secretariat: the verdict first, then each failed check — what was
// tested, the requirement, expected against observed, the request and the
// answer (truncated) — then the checks that passed, by plan. Every value
// from the run is escaped (html/template).
func WriteHTML(w io.Writer, r *Report) error {
	passed, failed := r.Counts()
	type plan struct {
		Name    string
		Results []Result
		Failed  int
	}
	var plans []*plan
	idx := map[string]*plan{}
	for _, x := range r.Results {
		p := idx[x.Plan]
		if p == nil {
			p = &plan{Name: x.Plan}
			idx[x.Plan] = p
			plans = append(plans, p)
		}
		p.Results = append(p.Results, x)
		if !x.Passed {
			p.Failed++
		}
	}
	return htmlReport.Execute(w, map[string]any{
		"R": r, "Verdict": r.verdict(), "OK": r.Passed(), "Passed": passed, "FailedN": failed,
		"Failed": r.Failed(), "Plans": plans,
	})
}
