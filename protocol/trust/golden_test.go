package trust_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-*.json")

type goldenExpect struct {
	GenesisSHA256 string   `json:"genesisSha256"`
	StateHash     string   `json:"stateHash"`
	ChainHead     string   `json:"chainHead"`
	Results       []string `json:"results"` // outcome or reason per entry
}

// goldenBundle builds a small, fully deterministic history.
func goldenBundle(t *testing.T) ([]byte, goldenExpect) {
	n := trusttest.NewDeterministic(t, "crvsx-golden-1", "TJ", "TR", "KZ")
	s := n.State()
	var entries []trust.Entry
	var results []string
	step := func(data []byte) {
		e := n.Entry(data)
		next, res, err := trust.Apply(s, e)
		if err != nil {
			t.Fatal(err)
		}
		s = next
		entries = append(entries, e)
		if res.Outcome == trust.OutcomeRejected {
			results = append(results, string(res.Reason))
		} else {
			results = append(results, string(res.Outcome))
		}
	}
	first := n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...)
	step(first)
	step(n.Sign(suspend(n, "TJ", "TR"), n.Gov("TJ")...))
	n.Advance(time.Hour)
	c := n.Command(trust.CmdMemberReinstate, "TR", trust.ReinstateArgs{Member: "KZ"})
	c.Propose = true
	step(n.Sign(c, n.Gov("TR")...))
	p, _ := s.Proposal(c.ID)
	step(n.Sign(approve(n, "TJ", p), n.Gov("TJ")...))
	tj := n.Member("TJ")
	k := n.NewKey("TJ", "EdDSA")
	step(n.Sign(n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Sig.Kid(), Key: n.Spec(k, trust.RoleSigning, n.Now)}), tj.Gov, k))
	n.Advance(time.Minute)
	step(n.Sign(n.Command(trust.CmdKeyRevoke, "TR", trust.KeyRevokeArgs{Kid: n.Member("KZ").Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: n.Now - 600}), n.Gov("TR", "TJ")...))
	step([]byte("not a command"))
	step(first)
	step(n.Sign(n.Command(trust.CmdNodeRegister, "KZ", trust.NodeRegisterArgs{Node: trusttest.NodeSpec("KZ", 2, trust.RoleVoter)}), n.Gov("KZ")...))
	raw, err := trust.NewBundle(n.Genesis, entries, s.ChainHead()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw, goldenExpect{GenesisSHA256: n.Genesis.Hash(), StateHash: s.Hash(), ChainHead: s.ChainHead(), Results: results}
}

// TestGoldenBundle pins the registry's formats (REGISTRY.md §1, §8, §12): a
// committed bundle must replay to the committed state hash and chain head
// forever, in this and any other implementation. A failure here means an
// encoding or rule changed — which breaks every bundle ever exported.
func TestGoldenBundle(t *testing.T) {
	bundlePath := filepath.Join("testdata", "golden-bundle.json")
	expectPath := filepath.Join("testdata", "golden-expect.json")
	raw, exp := goldenBundle(t)
	if *update {
		e, _ := json.MarshalIndent(exp, "", "  ")
		if err := os.WriteFile(bundlePath, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(expectPath, append(e, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	var want goldenExpect
	eb, err := os.ReadFile(expectPath)
	if err != nil || json.Unmarshal(eb, &want) != nil {
		t.Fatalf("read %s: %v", expectPath, err)
	}
	b, err := trust.ParseBundle(committed)
	if err != nil {
		t.Fatal(err)
	}
	s, results, err := trust.Replay(b, want.GenesisSHA256)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hash() != want.StateHash || s.ChainHead() != want.ChainHead {
		t.Fatalf("committed bundle replays to state %s chain %s, want %s %s", s.Hash(), s.ChainHead(), want.StateHash, want.ChainHead)
	}
	for i, r := range results {
		got := string(r.Outcome)
		if r.Outcome == trust.OutcomeRejected {
			got = string(r.Reason)
		}
		if got != want.Results[i] {
			t.Errorf("entry %d: %s, want %s", i, got, want.Results[i])
		}
	}
	// The generator still tells the same story. (Its bytes may change with
	// the JWS library's header encoding; the committed file is what must
	// keep replaying, so -update is for deliberate format changes only.)
	if len(exp.Results) != len(want.Results) {
		t.Fatalf("regenerated history has %d entries, testdata %d", len(exp.Results), len(want.Results))
	}
	for i := range exp.Results {
		if exp.Results[i] != want.Results[i] {
			t.Errorf("regenerated entry %d: %s, testdata %s", i, exp.Results[i], want.Results[i])
		}
	}
	if bytes.Equal(raw, committed) != (exp.ChainHead == want.ChainHead) {
		t.Errorf("same bytes must give the same chain head")
	}
}
