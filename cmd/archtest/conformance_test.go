package archtest

import (
	"strings"
	"testing"
)

// conformanceDir is the conformance suite (issue "the conformance suite
// that certifies a new member"): it talks to a candidate only over the wire
// and never imports node, so it judges another member's implementation and
// ours by the same rules and shares no code path with the node it judges.
// Its closure may hold protocol (the specification's reference checks) and
// schemas, never a package under node.
const conformanceDir = "conformance"

func conformanceViolations(deps []depPkg) []string {
	var bad []string
	for _, p := range deps {
		if p.ImportPath == module+"/node" || strings.HasPrefix(p.ImportPath, module+"/node/") {
			bad = append(bad, p.ImportPath+" is in the closure")
		}
	}
	return bad
}

func TestConformanceImportsNoNode(t *testing.T) {
	deps := listDeps(t, module+"/"+conformanceDir)
	var saw bool
	for _, p := range deps {
		saw = saw || p.ImportPath == module+"/"+conformanceDir
	}
	if !saw {
		t.Fatalf("%s is not in its own closure", conformanceDir)
	}
	for _, v := range conformanceViolations(deps) {
		t.Errorf("%s: %s", conformanceDir, v)
	}
}

// TestConformanceRuleCatchesANodeImport proves the rule can fail: the
// node's composition package is full of node packages.
func TestConformanceRuleCatchesANodeImport(t *testing.T) {
	v := strings.Join(conformanceViolations(listDeps(t, module+"/node/devnet")), "\n")
	if !strings.Contains(v, module+"/node/exchange is in the closure") {
		t.Fatalf("the rule does not catch node/devnet's closure:\n%s", v)
	}
}
