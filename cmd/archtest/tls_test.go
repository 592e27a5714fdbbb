package archtest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every TLS listener and client of the node is built by node/pintls (its
// doc.go): no other non-test file writes a tls.Config literal or turns the
// standard verification off. The conformance suite, which must not import
// node, builds its own pinned client (problem_test.go says why).
var tlsOwner = "node/pintls"

var tlsConfigRe = regexp.MustCompile(`tls\.Config\{|InsecureSkipVerify`)

func tlsViolations(name string, src []byte) []string {
	var bad []string
	for i, l := range strings.Split(string(src), "\n") {
		if tlsConfigRe.MatchString(l) && !strings.HasPrefix(strings.TrimSpace(l), "//") {
			bad = append(bad, name+":"+strconv.Itoa(i+1)+": builds a TLS configuration (use node/pintls)")
		}
	}
	return bad
}

func TestOnePinnedTLSPackage(t *testing.T) {
	checkSources(t, []string{tlsOwner, conformanceDir}, tlsViolations)
}

// TestTLSRuleCatchesTheOldCopies feeds the rule the pin checks this
// repository had in four places before node/pintls.
func TestTLSRuleCatchesTheOldCopies(t *testing.T) {
	for name, src := range map[string]string{
		"peer.go":       "tlsConf := &tls.Config{\n\tMinVersion: tls.VersionTLS13,\n\tInsecureSkipVerify: true,\n}",
		"api_client.go": "tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS13}",
		"bench_e2e.go":  "TLSClientConfig: &tls.Config{\n",
	} {
		if len(tlsViolations(name, []byte(src))) == 0 {
			t.Errorf("%s: the rule does not catch:\n%s", name, src)
		}
	}
}
