package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// One writer and one reader of problem documents (protocol/SPEC.md §7):
// node/internal/httpio.WriteProblem writes every problem of every API of
// the node, and protocol.DecodeProblem / *protocol.ProblemError is the one
// client-side decoder. Outside those two packages no non-test file may
// write the problem media type (naming it in an Accept header is fine),
// declare a type that carries a protocol.Problem, or decode JSON into a
// protocol.Problem.
//
// The conformance suite is the one exception, named here: it is the
// network's independent judge of what a candidate answers, so it reads
// problem documents field by field with its own code (a bug shared with the
// node's decoder would pass itself), and it never imports node
// (TestConformanceImportsNoNode).
var problemOwners = []string{"protocol", "node/internal/httpio", conformanceDir}

var (
	problemVarRe    = regexp.MustCompile(`\bvar (\w+) \*?protocol\.Problem\b`)
	problemMediaRe  = regexp.MustCompile(`protocol\.ProblemContentType|"application/problem\+json"`)
	decodeIntoRe    = `(Unmarshal\([^;\n]*&%s\)|Decode\(&%s\))`
	acceptHeaderRe  = regexp.MustCompile(`"Accept"`)
	problemFieldTyp = "protocol.Problem"
)

// problemViolations checks one Go source file.
func problemViolations(name string, src []byte) []string {
	var bad []string
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if problemMediaRe.MatchString(l) && !acceptHeaderRe.MatchString(l) {
			bad = append(bad, name+":"+strconv.Itoa(i+1)+": writes the problem media type (only node/internal/httpio.WriteProblem may)")
		}
	}
	for _, m := range problemVarRe.FindAllStringSubmatch(string(src), -1) {
		v := regexp.QuoteMeta(m[1])
		if regexp.MustCompile(strings.ReplaceAll(decodeIntoRe, "%s", v)).Match(src) {
			bad = append(bad, name+": decodes a problem document into "+m[1]+" (use protocol.DecodeProblem)")
		}
	}
	f, err := parser.ParseFile(token.NewFileSet(), name, src, 0)
	if err != nil {
		return append(bad, name+": "+err.Error())
	}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fld := range st.Fields.List {
			typ := fld.Type
			if s, ok := typ.(*ast.StarExpr); ok {
				typ = s.X
			}
			if sel, ok := typ.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name+"."+sel.Sel.Name == problemFieldTyp {
					bad = append(bad, name+": type "+ts.Name.Name+" carries a protocol.Problem (use *protocol.ProblemError)")
				}
			}
		}
		return true
	})
	return bad
}

func TestOneProblemWriterAndReader(t *testing.T) {
	checkSources(t, problemOwners, problemViolations)
}

// TestProblemRuleCatchesTheOldCopies feeds the rule the three decoders and
// the second writer this repository had before they were unified.
func TestProblemRuleCatchesTheOldCopies(t *testing.T) {
	for name, src := range map[string]string{
		"client.go": `package server
type ProblemError struct { Problem protocol.Problem }`,
		"api_client.go": `package registry
type APIError struct { Status int; Problem APIProblem }
type APIProblem struct { protocol.Problem; Reason string }`,
		"peer.go": `package peer
func answer(b []byte) error {
	var p protocol.Problem
	if err := json.Unmarshal(b, &p); err == nil { return nil }
	return nil
}`,
		"api.go": `package registry
func (a *API) problem(w http.ResponseWriter) { writeJSON(w, 400, protocol.ProblemContentType, nil) }`,
	} {
		if len(problemViolations(name, []byte(src))) == 0 {
			t.Errorf("%s: the rule does not catch:\n%s", name, src)
		}
	}
}
