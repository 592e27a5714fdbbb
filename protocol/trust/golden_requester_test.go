package trust_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// goldenRequesterBundle builds a deterministic history of requesters
// (REGISTRY.md §2.1, §7.1): register, update with a key change, a refused
// duplicate, suspend, reinstate by proposal, revoke a key as compromised.
func goldenRequesterBundle(t *testing.T) ([]byte, goldenExpect) {
	n := trusttest.NewDeterministic(t, "crvsx-golden-requesters-1", "TJ", "TR", "KZ")
	s := n.State()
	var entries []trust.Entry
	var results []string
	step := func(data []byte) trust.Result {
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
		return res
	}
	unhcr1 := n.RequesterKey("INT-UNHCR")
	step(register(n, n.RequesterSpec("INT-UNHCR", unhcr1)))
	border := n.RequesterSpec("TJ-BORDER", n.RequesterKey("TJ-BORDER"))
	border.OrganizationType, border.Countries, border.Questions, border.Bases = "border-agency", []string{"TJ", "KZ"}, []string{"identity-document-valid", "citizenship-confirmed"}, []string{"legal-obligation"}
	step(n.Sign(n.Command(trust.CmdRequesterRegister, "KZ", trust.RequesterRegisterArgs{Requester: border}), n.Gov("KZ", "TJ")...))
	n.Advance(time.Hour)
	unhcr2 := n.RequesterKey("INT-UNHCR")
	up := n.RequesterSpec("INT-UNHCR", unhcr2)
	up.Rate = trust.Rate{PerMinute: 120, Burst: 20}
	step(updateRequester(n, up))
	step(register(n, n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))))
	step(n.Sign(n.Command(trust.CmdRequesterSuspend, "TR", trust.RequesterSuspendArgs{Requester: "TJ-BORDER", Reason: "audit"}), n.Gov("TR", "KZ")...))
	n.Advance(time.Hour)
	c := n.Command(trust.CmdRequesterReinstate, "TJ", trust.RequesterReinstateArgs{Requester: "TJ-BORDER"})
	c.Propose = true
	step(n.Sign(c, n.Gov("TJ")...))
	p, _ := s.Proposal(c.ID)
	step(n.Sign(approve(n, "TR", p), n.Gov("TR")...))
	n.Advance(time.Minute)
	step(n.Sign(n.Command(trust.CmdKeyRevoke, "TR", trust.KeyRevokeArgs{Kid: unhcr2.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: n.Now - 600}), n.Gov("TR", "TJ")...))
	raw, err := trust.NewBundle(n.Genesis, entries, s.ChainHead()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw, goldenExpect{GenesisSHA256: n.Genesis.Hash(), StateHash: s.Hash(), ChainHead: s.ChainHead(), Results: results}
}

// TestGoldenRequesterBundle pins the requester encodings and rules like
// TestGoldenBundle pins the rest: the committed bundle must replay to the
// committed state hash and chain head forever, with the requesters in
// its view.
func TestGoldenRequesterBundle(t *testing.T) {
	bundlePath := filepath.Join("testdata", "golden-requester-bundle.json")
	expectPath := filepath.Join("testdata", "golden-requester-expect.json")
	raw, exp := goldenRequesterBundle(t)
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
	if len(results) != len(want.Results) {
		t.Fatalf("%d results, want %d", len(results), len(want.Results))
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
	wantStory := []string{"accepted", "accepted", "accepted", "CONFLICT", "accepted", "proposed", "accepted", "accepted"}
	for i := range wantStory {
		if i >= len(exp.Results) || exp.Results[i] != wantStory[i] || want.Results[i] != wantStory[i] {
			t.Fatalf("story: regenerated %v, testdata %v, want %v", exp.Results, want.Results, wantStory)
		}
	}
	v := trust.NewView(s)
	for id, st := range map[string]string{"INT-UNHCR": trust.StatusActive, "TJ-BORDER": trust.StatusActive} {
		if r, ok := v.Requester(id); !ok || r.Status != st {
			t.Errorf("%s: %+v %v", id, r, ok)
		}
	}
	if r, _ := v.Requester("INT-UNHCR"); r.RatePerMinute != 120 {
		t.Errorf("INT-UNHCR rate %d, want 120 (the update)", r.RatePerMinute)
	}
}
