package archtest

import (
	"strings"
	"testing"
)

// The registry's pure core (protocol/trust) is what an offline verifier,
// the conformance suite and other members' implementations import. Its
// dependency closure must hold no consensus, storage or network code
// (issue "renovate the trust-root wing"; protocol/trust/doc.go).
const trustCore = module + "/protocol/trust"

// forbiddenInCore are package trees that must not be in the core's closure.
var forbiddenInCore = []string{
	"github.com/hashicorp/raft",
	"github.com/hashicorp/raft-boltdb",
	"github.com/hashicorp/go-hclog",
	"go.etcd.io/bbolt",
	"github.com/boltdb/bolt",
	module + "/node",
}

// netHTTPVia lists the only packages in the core's closure that may import
// net/http: jwx's JWK package links its JWK-set fetcher and the httprc
// cache behind it, which we never call (protocol/jws fetches nothing: SPEC
// §6.3 refuses jku and x5u). jwx has no build tag to leave them out. No
// package of this module in the closure may import net/http.
var netHTTPVia = []string{"github.com/lestrrat-go/httprc", "github.com/lestrrat-go/jwx/v3/jwk"}

type depPkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

func listDeps(t *testing.T, pkg string) []depPkg {
	t.Helper()
	return goList[depPkg](t, "-deps", pkg)
}

// coreViolations returns what breaks the core's dependency rule in deps.
func coreViolations(deps []depPkg) []string {
	var bad []string
	for _, p := range deps {
		if hasPrefixAny(p.ImportPath, forbiddenInCore) {
			bad = append(bad, p.ImportPath+" is in the closure")
		}
		for _, imp := range p.Imports {
			if imp != "net/http" || p.Standard || hasPrefixAny(p.ImportPath, netHTTPVia) {
				continue
			}
			bad = append(bad, p.ImportPath+" imports net/http")
		}
	}
	return bad
}

func TestTrustCoreHasNoRaftStorageOrNetwork(t *testing.T) {
	deps := listDeps(t, trustCore)
	if len(deps) < 10 {
		t.Fatalf("go list -deps %s found %d packages; the test is not looking at the core", trustCore, len(deps))
	}
	var sawCore bool
	for _, p := range deps {
		sawCore = sawCore || p.ImportPath == trustCore
	}
	if !sawCore {
		t.Fatalf("%s is not in its own closure", trustCore)
	}
	for _, v := range coreViolations(deps) {
		t.Errorf("%s: %s", trustCore, v)
	}
}

// TestCoreRuleCatchesTheShell proves the rule can fail: the Raft shell's
// closure breaks it in both ways.
func TestCoreRuleCatchesTheShell(t *testing.T) {
	v := strings.Join(coreViolations(listDeps(t, module+"/node/registry")), "\n")
	for _, want := range []string{"github.com/hashicorp/raft is in the closure", "go.etcd.io/bbolt is in the closure", module + "/node/registry imports net/http"} {
		if !strings.Contains(v, want) {
			t.Errorf("the core rule does not report %q for node/registry; it reported:\n%s", want, v)
		}
	}
}
