package archtest

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every package's doc comment says what it may import, in a paragraph
// that starts with "Imports:" (STYLE.md "Docs"); this test keeps those
// paragraphs true. Each import from this module must be named by its path
// in the module (protocol/jws) — or the paragraph says "anything in this
// module" (the command) — each third-party one by its module path without
// the host (hashicorp/raft, bbolt, x/text).

type docPkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

// importsParagraph returns the "Imports:" paragraph of the package's doc
// comment, or "".
func importsParagraph(t *testing.T, p docPkg) string {
	t.Helper()
	for _, f := range p.GoFiles {
		af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if af.Doc == nil {
			continue
		}
		for _, para := range strings.Split(af.Doc.Text(), "\n\n") {
			if strings.HasPrefix(para, "Imports:") {
				return strings.Join(strings.Fields(para), " ")
			}
		}
	}
	return ""
}

// importName is how a doc names an import: "" for the standard library.
func importName(imp string) string {
	if strings.HasPrefix(imp, module+"/") {
		return strings.TrimPrefix(imp, module+"/")
	}
	if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
		return ""
	}
	mod, ok := ownerOf(imp)
	if !ok {
		mod = imp
	}
	parts := strings.SplitN(mod, "/", 2)
	if len(parts) == 1 {
		return mod
	}
	return parts[1]
}

// namedIn reports whether the paragraph names name as a whole word.
func namedIn(para, name string) bool {
	return regexp.MustCompile(`(^|[\s,(])` + regexp.QuoteMeta(name) + `($|[\s,.;:)'])`).MatchString(para)
}

func TestDocsSayWhatEachPackageImports(t *testing.T) {
	pkgs := goListDocs(t)
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		para := importsParagraph(t, p)
		if para == "" {
			t.Errorf("%s: the doc comment has no \"Imports:\" paragraph", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			name := importName(imp)
			if name == "" || strings.HasPrefix(imp, module+"/") && strings.Contains(para, "anything in this module") {
				continue
			}
			if !namedIn(para, name) {
				t.Errorf("%s imports %s, which its doc's Imports paragraph does not name (%q): %s", p.ImportPath, imp, name, para)
			}
		}
	}
}

func TestImportsRuleNamesAsDocsDo(t *testing.T) {
	for imp, want := range map[string]string{
		"github.com/hashicorp/raft-boltdb/v2":            "hashicorp/raft-boltdb",
		"go.etcd.io/bbolt":                               "bbolt",
		"golang.org/x/text/unicode/norm":                 "x/text",
		"github.com/prometheus/client_golang/prometheus": "prometheus/client_golang",
		module + "/protocol/jws":                         "protocol/jws",
		"net/http":                                       "",
	} {
		if got := importName(imp); got != want {
			t.Errorf("importName(%s) = %q, want %q", imp, got, want)
		}
	}
	if namedIn("Imports: protocol/jws and x/text.", "protocol") {
		t.Error("protocol/jws must not count as protocol")
	}
	if !namedIn("Imports: protocol/jws and x/text.", "x/text") {
		t.Error("x/text followed by a period")
	}
}

func goListDocs(t *testing.T) []docPkg {
	t.Helper()
	return goList[docPkg](t, module+"/...")
}
