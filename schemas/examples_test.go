package schemas_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/schemas"
	"github.com/ecrn/crvsx/schemas/semantic"
	"golang.org/x/text/unicode/norm"
)

// The example messages: testdata/valid holds realistic messages that must
// pass the schemas and the semantic layer without a single finding;
// testdata/invalid holds messages that each break exactly one rule, named
// in NAME.expect as "CODE POINTER"; testdata/warning holds valid messages
// that draw exactly one warning, named the same way (a warning never
// refuses a message: `crvsx schemas validate` exits 0 on them).

// verdict runs the whole validation a node runs on a payload: the schemas,
// then the semantic layer. It returns the refusal's code and pointer ("" when
// the message passed) and every issue, errors and warnings.
func verdict(t *testing.T, raw []byte) (code protocol.Code, pointer string, issues []protocol.Issue) {
	t.Helper()
	res, err := schemas.Default().Validate(raw)
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("internal error (not a verdict): %v", err)
		}
		return pe.Code, pe.Pointer, pe.Issues
	}
	// Validate runs semantic.Check itself once it is wired in (its errors
	// then come back as SEMANTIC_VALIDATION_FAILED above); running it here
	// as well keeps this test meaningful either way and adds the warnings.
	return "", "", semantic.Check(res.Doc)
}

func examples(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in testdata/%s: %v", dir, err)
	}
	return files
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dump(issues []protocol.Issue) string {
	var b strings.Builder
	for _, is := range issues {
		b.WriteString("\n\t" + is.Severity + " " + is.Code + " " + is.Pointer + ": " + is.Message)
	}
	return b.String()
}

func TestValidExamples(t *testing.T) {
	for _, f := range examples(t, "valid") {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			code, ptr, issues := verdict(t, mustRead(t, f))
			if code != "" || len(issues) > 0 {
				t.Errorf("refused with %s %s, or findings:%s", code, ptr, dump(issues))
			}
		})
	}
}

// expectation reads NAME.expect: one line "CODE POINTER".
func expectation(t *testing.T, jsonPath string) (code, pointer string) {
	t.Helper()
	b := mustRead(t, strings.TrimSuffix(jsonPath, ".json")+".expect")
	line := strings.TrimSuffix(string(b), "\n")
	fields := strings.Split(line, " ")
	if strings.Contains(line, "\n") || len(fields) != 2 || fields[0] == "" || !strings.HasPrefix(fields[1], "/") {
		t.Fatalf("%s.expect: want one line \"CODE POINTER\", got %q", strings.TrimSuffix(filepath.Base(jsonPath), ".json"), b)
	}
	return fields[0], fields[1]
}

func TestInvalidExamples(t *testing.T) {
	for _, f := range examples(t, "invalid") {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			wantCode, wantPtr := expectation(t, f)
			code, ptr, issues := verdict(t, mustRead(t, f))
			var errs []protocol.Issue
			var found *protocol.Issue
			for i, is := range issues {
				if is.Severity != protocol.SeverityWarning {
					errs = append(errs, is)
				}
				if is.Code == wantCode && is.Pointer == wantPtr {
					found = &issues[i]
				}
			}
			switch {
			case string(code) == wantCode && ptr == wantPtr:
				// A refusal of the whole message (UNSUPPORTED_SCHEMA_VERSION,
				// UNKNOWN_MESSAGE_TYPE): its issues may only explain it.
				for _, is := range errs {
					if is.Pointer != wantPtr {
						t.Errorf("refused with %s %s as expected, but also:%s", code, ptr, dump(errs))
						break
					}
				}
			case found == nil:
				t.Errorf("want %s %s; got refusal %q %s and:%s", wantCode, wantPtr, code, ptr, dump(issues))
			case found.Severity == protocol.SeverityWarning:
				t.Errorf("%s %s is a warning: the example belongs in testdata/warning", wantCode, wantPtr)
			case len(errs) != 1:
				t.Errorf("want exactly one error, %s %s; got:%s", wantCode, wantPtr, dump(errs))
			}
		})
	}
}

func TestWarningExamples(t *testing.T) {
	for _, f := range examples(t, "warning") {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			wantCode, wantPtr := expectation(t, f)
			res, err := schemas.Default().Validate(mustRead(t, f))
			if err != nil {
				t.Fatalf("a warning must not refuse the message: %v", err)
			}
			for _, w := range res.Warnings {
				if w.Code == wantCode && w.Pointer == wantPtr {
					return
				}
			}
			t.Errorf("want the warning %s %s; got:%s", wantCode, wantPtr, dump(res.Warnings))
		})
	}
}

// TestExampleFiles: every invalid example has its .expect and every .expect
// its example; no stray files.
func TestExampleFiles(t *testing.T) {
	for _, dir := range []string{"valid", "invalid", "warning"} {
		entries, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			switch ext := filepath.Ext(name); {
			case ext == ".json":
				if dir != "valid" {
					if _, err := os.Stat(filepath.Join("testdata", dir, strings.TrimSuffix(name, ".json")+".expect")); err != nil {
						t.Errorf("%s/%s has no .expect", dir, name)
					}
				}
			case ext == ".expect" && dir != "valid":
				if _, err := os.Stat(filepath.Join("testdata", dir, strings.TrimSuffix(name, ".expect")+".json")); err != nil {
					t.Errorf("%s/%s has no .json", dir, name)
				}
			default:
				t.Errorf("unexpected file %s/%s", dir, name)
			}
		}
	}
}

// edgeCases maps each edge case of the data dictionary ("Edge cases every
// part must handle") to the valid example that shows it.
var edgeCases = map[string]string{
	"year-only and year-month dates": "death-year-only-and-year-month-dates.json",
	"leap day":                       "live-birth-leap-day-in-almaty.json",
	"mononym":                        "marriage-mononym-afghan-refugee-in-vahdat.json",
	"Uzbek ʻ (U+02BB)":               "live-birth-uzbek-latin-names-with-okina.json",
	"names in Cyrillic, Latin and Arabic scripts": "death-tajik-names-in-cyrillic-latin-and-arabic.json",
	"unknown father": "live-birth-unknown-father.json",
	"stateless mother with a Soviet passport (SUHH)":      "live-birth-stateless-mother-with-soviet-passport.json",
	"refugee reported to an international node":           "death-afghan-refugee-reported-to-unhcr.json",
	"unidentified deceased":                               "death-unidentified-deceased.json",
	"twins linked through relatedRecords (first born)":    "live-birth-twins-first-born.json",
	"twins linked through relatedRecords (second born)":   "live-birth-twins-second-born.json",
	"delayed registration of an adult":                    "live-birth-delayed-registration-of-adult.json",
	"divorce of a marriage registered in another country": "divorce-of-marriage-registered-in-uzbekistan.json",
	"sealed adoption":                                     "adoption-sealed-full-adoption-in-almaty.json",
	"amendment that resends the full record":              "live-birth-amendment-resends-full-record.json",
	"cancellation of a duplicate registration":            "record-cancellation-duplicate-birth-registration.json",
	"ZWNJ in a Dari/Persian name in Arabic script":        "death-tajik-names-in-cyrillic-latin-and-arabic.json",
	"Turkish İ/ı in names and places":                     "judicial-separation-in-istanbul.json",
	"Kazakh Cyrillic letters (ә ғ қ ң ө ұ ү һ і)":         "death-kazakh-citizen-in-tashkent.json",
	"Kyrgyz Cyrillic letters (ң ө ү)":                     "recognition-of-paternity-in-bishkek.json",
	"citizenship notification via a parent's citizenship": "live-birth-tajik-child-in-istanbul.json",
	"former-country document without issuingCountry":      "live-birth-stateless-mother-with-soviet-passport.json",
	"recognition of a child by the father with consent":   "recognition-of-paternity-in-bishkek.json",
	"marriage of spouses of different citizenships":       "marriage-uzbek-turkish-couple-in-tashkent.json",
	"status attestation answering only what was asked":    "status-attestation-unique-match-from-kazakhstan.json",
}

func TestEdgeCasesHaveExamples(t *testing.T) {
	for edge, file := range edgeCases {
		if _, err := os.Stat(filepath.Join("testdata", "valid", file)); err != nil {
			t.Errorf("edge case %q: example %s missing", edge, file)
		}
	}
}

func TestEveryMessageTypeHasExample(t *testing.T) {
	have := map[string]bool{}
	for _, f := range examples(t, "valid") {
		code, _, issues := verdict(t, mustRead(t, f))
		if code != "" || len(issues) > 0 {
			continue // TestValidExamples reports it
		}
		res, err := schemas.Default().Validate(mustRead(t, f))
		if err == nil {
			have[res.MessageType] = true
		}
	}
	for _, mt := range protocol.MessageTypes {
		if !have[mt] {
			t.Errorf("no valid example of %s", mt)
		}
	}
}

// TestInvalidExamplesCoverRules: one invalid example at least per semantic
// rule Check can report, and per schema rule family.
func TestInvalidExamplesCoverRules(t *testing.T) {
	covered := map[string]bool{}
	for _, dir := range []string{"invalid", "warning"} {
		for _, f := range examples(t, dir) {
			code, _ := expectation(t, f)
			covered[code] = true
		}
	}
	for _, c := range semantic.Codes {
		switch c {
		case semantic.CodeAnswerNotAsked, semantic.CodeQueryMismatch:
			continue // need the query: CheckAttestationAnswers, tested in its package
		}
		if !covered[c] {
			t.Errorf("no invalid example for semantic rule %s", c)
		}
	}
	for _, c := range []string{
		"SCHEMA_REQUIRED", "SCHEMA_ADDITIONAL_PROPERTY", "SCHEMA_TYPE", "SCHEMA_ENUM",
		"SCHEMA_PATTERN", "SCHEMA_FORMAT", "SCHEMA_MIN_LENGTH", "SCHEMA_MAX_LENGTH", "SCHEMA_MINIMUM",
		"SCHEMA_MAXIMUM", "SCHEMA_MIN_ITEMS", "SCHEMA_MAX_ITEMS", "SCHEMA_UNIQUE_ITEMS", "SCHEMA_FORBIDDEN",
		string(protocol.CodeSchemaVersion), string(protocol.CodeMessageType),
	} {
		if !covered[c] {
			t.Errorf("no invalid example for schema rule family %s", c)
		}
	}
}

// The examples are what a clerk reads: UTF-8 without BOM, NFC, LF endings.
func TestExamplesAreNFCText(t *testing.T) {
	for _, dir := range []string{"valid", "invalid", "warning"} {
		for _, f := range examples(t, dir) {
			b := mustRead(t, f)
			if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) || bytes.Contains(b, []byte("\r")) {
				t.Errorf("%s: BOM or CR", f)
			}
			if !norm.NFC.IsNormal(b) {
				t.Errorf("%s: not NFC", f)
			}
		}
	}
}
