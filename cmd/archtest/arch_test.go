package archtest

import (
	"strings"
	"testing"
)

// owners maps a third-party module path to the package trees that may
// import it. A tree "x" allows "x" and "x/...". Modules used only by tests
// everywhere (testify) are listed under testOnly.
var owners = map[string][]string{
	"github.com/lestrrat-go/jwx":          {"github.com/ecrn/crvsx/protocol/jws"},
	"github.com/xeipuuv/gojsonschema":     {"github.com/ecrn/crvsx/schemas"},
	"golang.org/x/text":                   {"github.com/ecrn/crvsx/schemas"},
	"github.com/hashicorp/raft":           {"github.com/ecrn/crvsx/node/registry"},
	"github.com/hashicorp/raft-boltdb":    {"github.com/ecrn/crvsx/node/registry"},
	"github.com/hashicorp/go-hclog":       {"github.com/ecrn/crvsx/node/registry"}, // raft's logger, adapted to slog where raft is built
	"go.etcd.io/bbolt":                    {"github.com/ecrn/crvsx/node/store", "github.com/ecrn/crvsx/node/registry"},
	"github.com/go-resty/resty":           {"github.com/ecrn/crvsx/node/peer"},
	"github.com/spf13/cobra":              {"github.com/ecrn/crvsx/cmd/crvsx"},
	"github.com/spf13/pflag":              {"github.com/ecrn/crvsx/cmd/crvsx"},
	"github.com/prometheus/client_golang": {"github.com/ecrn/crvsx/node/server"},
	"golang.org/x/time":                   {"github.com/ecrn/crvsx/node/server", "github.com/ecrn/crvsx/node/exchange", "github.com/ecrn/crvsx/node/query"},
	"github.com/chromedp/chromedp":        {"github.com/ecrn/crvsx/node/console/browsertest"}, // the console's browser tests only: no shipped package drives a browser
	"github.com/makiuchi-d/gozxing":       {"github.com/ecrn/crvsx/protocol/attest/qr"},       // QR codes of attestations (SPEC §11.3)
}

var testOnly = []string{"github.com/stretchr/testify"}

const module = "github.com/ecrn/crvsx"

type pkg struct {
	ImportPath   string
	Name         string
	Doc          string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	return goList[pkg](t, "-e", module+"/...")
}

func within(path, tree string) bool {
	return path == tree || strings.HasPrefix(path, tree+"/")
}

// ownerOf returns the owned module an import belongs to, if any.
func ownerOf(imp string) (string, bool) {
	for mod := range owners {
		if within(imp, mod) || strings.HasPrefix(imp, mod+"/v") {
			return mod, true
		}
	}
	return "", false
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range listPackages(t) {
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command "
		}
		if !strings.HasPrefix(p.Doc, want) {
			t.Errorf("%s: package doc comment should start with %q, got %q", p.ImportPath, want, p.Doc)
		}
	}
}

func TestThirdPartyLibrariesHaveOneOwner(t *testing.T) {
	for _, p := range listPackages(t) {
		check := func(imports []string, test bool) {
			for _, imp := range imports {
				if strings.HasPrefix(imp, module) || !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					continue // our own, or the standard library
				}
				if test && hasPrefixAny(imp, testOnly) {
					continue
				}
				mod, owned := ownerOf(imp)
				if !owned {
					t.Errorf("%s imports %s, which has no owner in cmd/archtest: add it (one owning package) or use the owner", p.ImportPath, imp)
					continue
				}
				if !hasTreeAny(p.ImportPath, owners[mod]) {
					t.Errorf("%s imports %s; only %v may", p.ImportPath, imp, owners[mod])
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
}

func TestOwnershipRuleCatchesAStrayImport(t *testing.T) {
	mod, owned := ownerOf("github.com/lestrrat-go/jwx/v3/jws")
	if !owned || mod != "github.com/lestrrat-go/jwx" {
		t.Fatalf("jwx/v3/jws not recognised as jwx: %q %v", mod, owned)
	}
	if hasTreeAny("github.com/ecrn/crvsx/node/exchange", owners[mod]) {
		t.Fatal("node/exchange would be allowed to import jwx")
	}
	if !hasTreeAny("github.com/ecrn/crvsx/protocol/jws", owners[mod]) {
		t.Fatal("protocol/jws must be allowed to import jwx")
	}
}

// The browser driver is for the console's browser tests: the console
// itself (the shipped package) may not import it.
func TestChromedpStaysInTheBrowserTests(t *testing.T) {
	mod, owned := ownerOf("github.com/chromedp/chromedp/kb")
	if !owned || mod != "github.com/chromedp/chromedp" {
		t.Fatalf("chromedp/kb not recognised as chromedp: %q %v", mod, owned)
	}
	if hasTreeAny(module+"/node/console", owners[mod]) {
		t.Error("node/console would be allowed to import chromedp")
	}
	if !hasTreeAny(module+"/node/console/browsertest", owners[mod]) {
		t.Error("node/console/browsertest must be allowed to import chromedp")
	}
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if within(s, p) {
			return true
		}
	}
	return false
}

func hasTreeAny(path string, trees []string) bool {
	for _, tr := range trees {
		if within(path, tr) {
			return true
		}
	}
	return false
}
