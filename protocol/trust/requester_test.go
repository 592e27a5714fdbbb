package trust_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// register returns a requester.register of spec signed by TJ and TR (the
// threshold of net3).
func register(n *trusttest.Network, rs trust.RequesterSpec) []byte {
	return n.Sign(n.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: rs}), n.Gov("TJ", "TR")...)
}

func updateRequester(n *trusttest.Network, rs trust.RequesterSpec) []byte {
	return n.Sign(n.Command(trust.CmdRequesterUpdate, "TJ", trust.RequesterUpdateArgs{Requester: rs}), n.Gov("TJ", "TR")...)
}

// withUNHCR is net3 with INT-UNHCR registered (one key).
func withUNHCR(t *testing.T) (*trusttest.Network, *trust.State, *jws.Signer) {
	t.Helper()
	n, s := net3(t)
	k := n.RequesterKey("INT-UNHCR")
	s = n.MustApply(s, register(n, n.RequesterSpec("INT-UNHCR", k)), trust.OutcomeAccepted)
	return n, s, k
}

func codeOf(err error) protocol.Code { return protocol.CodeOf(err) }

// TestRequesterRegisterAccepted is REGISTRY.md §2.1, §7.1 and §10: a
// registered requester is in the state and the view with its scope, pin
// and keys, lists sorted; its keys are in RequesterKeys only.
func TestRequesterRegisterAccepted(t *testing.T) {
	n, s, k := withUNHCR(t)
	r, ok := s.Requester("INT-UNHCR")
	if !ok || r.Status != trust.StatusActive || r.RegisteredAt != s.ConsensusTime() || len(r.Keys) != 1 || r.Keys[0].Status != trust.KeyActive {
		t.Fatalf("state: %+v %v", r, ok)
	}
	if strings.Join(r.Questions, ",") != "is-registered,vital-status" || strings.Join(r.Bases, ",") != "data-subject-consent,vital-interest" ||
		strings.Join(r.Purposes, ",") != "family-reunification,humanitarian-verification,identification-assistance" {
		t.Errorf("lists are not stored sorted: %v %v %v", r.Questions, r.Bases, r.Purposes)
	}
	if got := s.Requesters(); len(got) != 1 || got[0].ID != "INT-UNHCR" {
		t.Errorf("Requesters() = %v", got)
	}
	v := trust.NewView(s)
	vr, ok := v.Requester("INT-UNHCR")
	if !ok || vr.Name != "Requester INT-UNHCR" || vr.OrganizationType != "humanitarian-un" || vr.RatePerMinute != 60 || vr.RateBurst != 10 ||
		vr.Status != trust.StatusActive || strings.Join(vr.Countries, ",") != "KZ,TJ,TR" || vr.TLSSPKISHA256 != trusttest.RequesterPin("INT-UNHCR") {
		t.Fatalf("view: %+v %v", vr, ok)
	}
	if byPin, ok := v.RequesterByPin(trusttest.RequesterPin("INT-UNHCR")); !ok || byPin.ID != "INT-UNHCR" {
		t.Errorf("RequesterByPin: %+v %v", byPin, ok)
	}
	if _, ok := v.RequesterByPin(trusttest.NodeSpec("TJ", 1, trust.RoleVoter).TLSSPKISHA256); ok {
		t.Error("a node's pin is not a requester's")
	}
	pub, ok := v.RequesterKeys().LookupKey(k.Kid())
	if !ok || pub.Member != "INT-UNHCR" || !strings.HasPrefix(k.Kid(), "INT-UNHCR:") {
		t.Fatalf("RequesterKeys: %+v %v", pub, ok)
	}
	if err := v.RequesterKeyValidAt(k.Kid(), n.Now.Time()); err != nil {
		t.Errorf("RequesterKeyValidAt now: %v", err)
	}

	// > SPEC §11.1: a requester key never verifies an event; a member key
	// > never verifies a query.
	if _, ok := v.LookupKey(k.Kid()); ok {
		t.Error("LookupKey returned a requester key")
	}
	if err := v.ValidAt(k.Kid(), n.Now.Time()); codeOf(err) != protocol.CodeKeyUnknown {
		t.Errorf("ValidAt(requester kid) = %v, want KEY_UNKNOWN", err)
	}
	if _, ok := v.RequesterKeys().LookupKey(n.Member("TJ").Sig.Kid()); ok {
		t.Error("RequesterKeys returned a member signing key")
	}
	if err := v.RequesterKeyValidAt(n.Member("TJ").Sig.Kid(), n.Now.Time()); codeOf(err) != protocol.CodeKeyUnknown {
		t.Errorf("RequesterKeyValidAt(member kid) = %v, want KEY_UNKNOWN", err)
	}
	// A query signed by the requester verifies against RequesterKeys and
	// not against the member view.
	tok, err := k.Sign(protocol.TypQuery, []byte(`{"q":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(tok, v.RequesterKeys(), jws.Options{Typ: protocol.TypQuery}); err != nil {
		t.Errorf("query does not verify against RequesterKeys: %v", err)
	}
	if _, err := jws.Verify(tok, v, jws.Options{Typ: protocol.TypQuery}); codeOf(err) != protocol.CodeKeyUnknown {
		t.Errorf("query verified against member keys: %v", err)
	}
}

// TestRequesterKeyValidAt is REGISTRY.md §10: the key's interval and the
// requester's registration bound when it could sign.
func TestRequesterKeyValidAt(t *testing.T) {
	n, s, k := withUNHCR(t)
	v := trust.NewView(s)
	r, _ := s.Requester("INT-UNHCR")
	for _, c := range []struct {
		name string
		at   trust.Timestamp
		want protocol.Code
	}{
		{"at-registration", r.RegisteredAt, ""},
		{"before-registration", r.RegisteredAt - 1, protocol.CodeKeyNotValid},
		{"after-notAfter", r.Keys[0].NotAfter, protocol.CodeKeyNotValid},
		{"a-day-later", n.Now + 86400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := codeOf(v.RequesterKeyValidAt(k.Kid(), c.at.Time())); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestRequesterRegisterRefused is REGISTRY.md §7.1: each broken rule has
// its reason, and the content does not change.
func TestRequesterRegisterRefused(t *testing.T) {
	type mk func(n *trusttest.Network, s *trust.State) (*trust.State, []byte)
	spec := func(mut func(*trust.RequesterSpec)) mk {
		return func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			rs := n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))
			mut(&rs)
			return s, register(n, rs)
		}
	}
	cases := []struct {
		name string
		want trust.Reason
		mk   mk
	}{
		{"bad-id/member-code", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.ID = "KG" })},
		{"bad-id/lower-case", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.ID = "int-unhcr" })},
		{"bad-id/no-prefix", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.ID = "UNHCR" })},
		{"bad-id/too-long", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.ID = "INT-" + strings.Repeat("A", 61) })},
		{"key-member-mismatch", trust.ReasonMalformedCommand, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			rs := n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-IOM"))
			return s, register(n, rs)
		}},
		{"key-of-a-member", trust.ReasonMalformedCommand, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			rs := n.RequesterSpec("INT-UNHCR", n.NewKey("TJ", jws.AlgES256))
			return s, register(n, rs)
		}},
		{"kid-not-derived", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) {
			var m map[string]any
			_ = json.Unmarshal(rs.Keys[0].JWK, &m)
			m["kid"] = "INT-UNHCR:AAAAAAAAAAAAAAAA"
			rs.Keys[0].JWK, _ = json.Marshal(m)
		})},
		{"key-listed-twice", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Keys = append(rs.Keys, rs.Keys[0]) })},
		{"no-key", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Keys = nil })},
		{"key-interval", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Keys[0].NotAfter = rs.Keys[0].NotBefore })},
		{"pin-format/upper-case", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.TLSSPKISHA256 = strings.ToUpper(rs.TLSSPKISHA256) })},
		{"pin-format/short", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.TLSSPKISHA256 = rs.TLSSPKISHA256[:63] })},
		{"scope/organization-type", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.OrganizationType = "bank" })},
		{"scope/question", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Questions = []string{"full-record"} })},
		{"scope/question-twice", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Questions = []string{"vital-status", "vital-status"} })},
		{"scope/basis", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Bases = []string{"curiosity"} })},
		{"scope/no-basis", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Bases = nil })},
		{"scope/purpose", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Purposes = []string{"marketing"} })},
		{"scope/no-purpose", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Purposes = nil })},
		{"scope/country-code", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Countries = []string{"tj"} })},
		{"scope/no-country", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Countries = nil })},
		{"rate/zero", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Rate.PerMinute = 0 })},
		{"rate/burst-too-big", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Rate.Burst = trust.MaxRateBurst + 1 })},
		{"name", trust.ReasonMalformedCommand, spec(func(rs *trust.RequesterSpec) { rs.Name = "" })},
		{"country-not-a-member", trust.ReasonInvalidArgument, spec(func(rs *trust.RequesterSpec) { rs.Countries = []string{"TJ", "DE"} })},
		{"key-expired", trust.ReasonInvalidArgument, spec(func(rs *trust.RequesterSpec) {
			rs.Keys[0].NotBefore, rs.Keys[0].NotAfter = trusttest.GenesisTime-7200, trusttest.GenesisTime-3600
		})},
		{"member-prefix-unknown", trust.ReasonNotFound, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, register(n, n.RequesterSpec("KG-BORDER", n.RequesterKey("KG-BORDER")))
		}},
		{"member-prefix-withdrawn", trust.ReasonConflict, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdMemberWithdraw, "KZ", trust.WithdrawArgs{Member: "KZ"}), n.Gov("KZ")...), trust.OutcomeAccepted)
			rs := n.RequesterSpec("KZ-BORDER", n.RequesterKey("KZ-BORDER"))
			rs.Countries = []string{"TJ"}
			return s, register(n, rs)
		}},
		{"duplicate-id", trust.ReasonConflict, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			s = n.MustApply(s, register(n, n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))), trust.OutcomeAccepted)
			rs := n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))
			rs.TLSSPKISHA256 = trusttest.RequesterPin("other")
			return s, register(n, rs)
		}},
		{"id-of-a-node", trust.ReasonConflict, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, register(n, n.RequesterSpec("TJ-N1", n.RequesterKey("TJ-N1")))
		}},
		{"pin-of-a-node", trust.ReasonConflict, spec(func(rs *trust.RequesterSpec) {
			rs.TLSSPKISHA256 = trusttest.NodeSpec("TR", 1, trust.RoleVoter).TLSSPKISHA256
		})},
		{"pin-of-another-requester", trust.ReasonConflict, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			s = n.MustApply(s, register(n, n.RequesterSpec("INT-IOM", n.RequesterKey("INT-IOM"))), trust.OutcomeAccepted)
			rs := n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))
			rs.TLSSPKISHA256 = trusttest.RequesterPin("INT-IOM")
			return s, register(n, rs)
		}},
		{"key-pair-of-another-requester", trust.ReasonConflict, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			k := n.RequesterKey("INT-IOM")
			s = n.MustApply(s, register(n, n.RequesterSpec("INT-IOM", k)), trust.OutcomeAccepted)
			same, err := jws.NewSigner("INT-UNHCR", k.CryptoSigner())
			if err != nil {
				t.Fatal(err)
			}
			return s, register(n, n.RequesterSpec("INT-UNHCR", same))
		}},
		{"key-pair-of-a-member", trust.ReasonConflict, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			same, err := jws.NewSigner("INT-UNHCR", n.Member("TJ").Sig.CryptoSigner())
			if err != nil {
				t.Fatal(err)
			}
			return s, register(n, n.RequesterSpec("INT-UNHCR", same))
		}},
		{"threshold/one-member", trust.ReasonBelowThreshold, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			rs := n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))
			return s, n.Sign(n.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: rs}), n.Gov("TJ")...)
		}},
		{"requester-key-signs-command", trust.ReasonUnknownKey, func(n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			k := n.RequesterKey("INT-UNHCR")
			s = n.MustApply(s, register(n, n.RequesterSpec("INT-UNHCR", k)), trust.OutcomeAccepted)
			return s, n.Sign(suspend(n, "TJ", "KZ"), n.Member("TJ").Gov, n.Member("TR").Gov, k)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, s := net3(t)
			s, data := c.mk(n, s)
			next, res := n.Apply(s, data)
			if res.Outcome != trust.OutcomeRejected || res.Reason != c.want {
				t.Fatalf("outcome %s %s (%s), want rejected %s", res.Outcome, res.Reason, res.Detail, c.want)
			}
			if next.Hash() != s.Hash() {
				t.Fatal("a rejected command changed the content")
			}
		})
	}
}

// TestRequesterThresholds is REGISTRY.md §2 and §6: the requester types
// are network commands; a policy without their thresholds uses
// member.admit's (member.suspend's for requester.suspend); one with them
// uses its own; propose + approve works as for any network command.
func TestRequesterThresholds(t *testing.T) {
	t.Run("propose-then-approve", func(t *testing.T) {
		n, s := net3(t)
		c := n.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: n.RequesterSpec("INT-IOM", n.RequesterKey("INT-IOM"))})
		c.Propose = true
		s = n.MustApply(s, n.Sign(c, n.Gov("TJ")...), trust.OutcomeProposed)
		if _, ok := s.Requester("INT-IOM"); ok {
			t.Fatal("a proposal took effect")
		}
		p, _ := s.Proposal(c.ID)
		s = n.MustApply(s, n.Sign(approve(n, "KZ", p), n.Gov("KZ")...), trust.OutcomeAccepted)
		if _, ok := s.Requester("INT-IOM"); !ok {
			t.Fatal("the approved proposal did not register the requester")
		}
	})
	for _, c := range []struct {
		name  string
		set   func(p *trust.Policy)
		typ   string
		signs []string
		want  trust.Outcome
	}{
		{"fallback/register-uses-member.admit", func(p *trust.Policy) {
			p.Thresholds[trust.CmdMemberAdmit] = trust.Threshold{Numerator: 1, Denominator: 1, Minimum: 3}
		},
			trust.CmdRequesterRegister, []string{"TJ", "TR"}, trust.OutcomeRejected},
		{"fallback/suspend-uses-member.suspend", func(p *trust.Policy) {
			p.Thresholds[trust.CmdMemberAdmit] = trust.Threshold{Numerator: 1, Denominator: 1, Minimum: 3}
			p.Thresholds[trust.CmdMemberSuspend] = trust.Threshold{Numerator: 0, Denominator: 1, Minimum: 1}
		}, trust.CmdRequesterSuspend, []string{"TJ"}, trust.OutcomeAccepted},
		{"own/register", func(p *trust.Policy) {
			p.Thresholds[trust.CmdRequesterRegister] = trust.Threshold{Numerator: 1, Denominator: 1, Minimum: 3}
		}, trust.CmdRequesterRegister, []string{"TJ", "TR"}, trust.OutcomeRejected},
		{"own/register-met", func(p *trust.Policy) {
			p.Thresholds[trust.CmdRequesterRegister] = trust.Threshold{Numerator: 1, Denominator: 1, Minimum: 3}
		}, trust.CmdRequesterRegister, []string{"TJ", "TR", "KZ"}, trust.OutcomeAccepted},
	} {
		t.Run(c.name, func(t *testing.T) {
			pol := trusttest.DefaultPolicy()
			if err := pol.Validate(); err != nil {
				t.Fatal(err)
			}
			c.set(&pol)
			if err := pol.Validate(); err != nil {
				t.Fatalf("policy with or without requester thresholds must validate: %v", err)
			}
			n := trusttest.NewWithPolicy(t, pol, "TJ", "TR", "KZ")
			s := n.State()
			var args any = trust.RequesterRegisterArgs{Requester: n.RequesterSpec("INT-IOM", n.RequesterKey("INT-IOM"))}
			if c.typ == trust.CmdRequesterSuspend {
				s = n.MustApply(s, register(n, n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))), trust.OutcomeRejected) // member.admit needs 3
				s = n.MustApply(s, n.Sign(n.Command(trust.CmdRequesterRegister, "TJ", trust.RequesterRegisterArgs{Requester: n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))}), n.Gov("TJ", "TR", "KZ")...), trust.OutcomeAccepted)
				args = trust.RequesterSuspendArgs{Requester: "INT-UNHCR", Reason: "audit"}
			}
			_, res := n.Apply(s, n.Sign(n.Command(c.typ, c.signs[0], args), n.Gov(c.signs...)...))
			if res.Outcome != c.want || (c.want == trust.OutcomeRejected && res.Reason != trust.ReasonBelowThreshold) {
				t.Fatalf("%s %s (%s), want %s", res.Outcome, res.Reason, res.Detail, c.want)
			}
		})
	}
	t.Run("default-policy-has-no-requester-thresholds", func(t *testing.T) {
		for _, typ := range []string{trust.CmdRequesterRegister, trust.CmdRequesterUpdate, trust.CmdRequesterSuspend, trust.CmdRequesterReinstate} {
			if _, ok := trust.DefaultPolicy().Thresholds[typ]; ok {
				t.Errorf("DefaultPolicy sets %s: genesis documents built from it would change", typ)
			}
			if _, ok := trust.DefaultPolicy().Threshold(typ); !ok {
				t.Errorf("no threshold for %s", typ)
			}
		}
	})
}

// TestRequesterUpdate is REGISTRY.md §7.1 requester.update: it replaces
// what it lists; a key it drops is retired at t and keeps verifying what
// it signed before.
func TestRequesterUpdate(t *testing.T) {
	n, s, k1 := withUNHCR(t)
	before := n.Now
	n.Advance(time.Hour)
	k2 := n.RequesterKey("INT-UNHCR")
	rs := n.RequesterSpec("INT-UNHCR", k2)
	rs.Name, rs.OrganizationType = "UNHCR", "humanitarian-un"
	rs.Countries, rs.Questions, rs.Bases = []string{"TJ"}, []string{"civil-status"}, []string{"legal-obligation"}
	rs.Rate = trust.Rate{PerMinute: 5, Burst: 1}
	rs.TLSSPKISHA256 = trusttest.RequesterPin("INT-UNHCR-2")
	s = n.MustApply(s, updateRequester(n, rs), trust.OutcomeAccepted)
	tUpdate := s.ConsensusTime()
	v := trust.NewView(s)
	r, _ := v.Requester("INT-UNHCR")
	if r.Name != "UNHCR" || strings.Join(r.Countries, ",") != "TJ" || strings.Join(r.Questions, ",") != "civil-status" ||
		strings.Join(r.Bases, ",") != "legal-obligation" || r.RatePerMinute != 5 || r.RateBurst != 1 || r.Status != trust.StatusActive {
		t.Fatalf("update not applied: %+v", r)
	}
	if _, ok := v.RequesterByPin(trusttest.RequesterPin("INT-UNHCR")); ok {
		t.Error("the old pin still names the requester")
	}
	if _, ok := v.RequesterByPin(trusttest.RequesterPin("INT-UNHCR-2")); !ok {
		t.Error("the new pin does not name the requester")
	}
	rec, _ := s.Requester("INT-UNHCR")
	if len(rec.Keys) != 2 {
		t.Fatalf("keys: %+v (a dropped key is never deleted)", rec.Keys)
	}
	// > a key dropped by an update is retired at t.
	if err := v.RequesterKeyValidAt(k1.Kid(), before.Time()); err != nil {
		t.Errorf("a query signed by the dropped key before the update: %v", err)
	}
	if err := v.RequesterKeyValidAt(k1.Kid(), tUpdate.Time()); codeOf(err) != protocol.CodeKeyNotValid {
		t.Errorf("the dropped key at the update: %v, want KEY_NOT_VALID", err)
	}
	if err := v.RequesterKeyValidAt(k2.Kid(), tUpdate.Time()); err != nil {
		t.Errorf("the new key: %v", err)
	}

	for _, c := range []struct {
		name string
		want trust.Reason
		mut  func(rs *trust.RequesterSpec)
	}{
		{"retired-kid-listed-again", trust.ReasonConflict, func(rs *trust.RequesterSpec) { rs.Keys = append(rs.Keys, n.RequesterKeySpec(k1, before-3600)) }},
		{"validity-changed", trust.ReasonInvalidArgument, func(rs *trust.RequesterSpec) { rs.Keys[0].NotAfter++ }},
		{"unknown-requester", trust.ReasonNotFound, func(rs *trust.RequesterSpec) {
			*rs = n.RequesterSpec("INT-IOM", n.RequesterKey("INT-IOM"))
		}},
		{"pin-of-a-node", trust.ReasonConflict, func(rs *trust.RequesterSpec) { rs.TLSSPKISHA256 = trusttest.NodeSpec("TJ", 1, "").TLSSPKISHA256 }},
		{"bad-question", trust.ReasonMalformedCommand, func(rs *trust.RequesterSpec) { rs.Questions = []string{"name"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := n.RequesterSpec("INT-UNHCR", k2)
			rs.Keys[0] = trust.RequesterKeySpec{JWK: rs.Keys[0].JWK, NotBefore: before - 3600 + 3600, NotAfter: before + trust.Timestamp(trusttest.KeyLifetime/time.Second)}
			r, _ := s.Requester("INT-UNHCR")
			for _, k := range r.Keys {
				if k.Kid == k2.Kid() {
					rs.Keys[0].NotBefore, rs.Keys[0].NotAfter = k.NotBefore, k.NotAfter
				}
			}
			c.mut(&rs)
			next, res := n.Apply(s, updateRequester(n, rs))
			if res.Reason != c.want || next.Hash() != s.Hash() {
				t.Fatalf("%s %s (%s), want rejected %s", res.Outcome, res.Reason, res.Detail, c.want)
			}
		})
	}
}

// TestRequesterSuspendReinstate is REGISTRY.md §7 requester.suspend and
// requester.reinstate. The status does not change which keys verify
// (RequesterKeyValidAt leaves it to the query path).
func TestRequesterSuspendReinstate(t *testing.T) {
	n, s, k := withUNHCR(t)
	sus := func(id string) []byte {
		return n.Sign(n.Command(trust.CmdRequesterSuspend, "TR", trust.RequesterSuspendArgs{Requester: id, Reason: "misuse"}), n.Gov("TR", "KZ")...)
	}
	rein := func(id string) []byte {
		return n.Sign(n.Command(trust.CmdRequesterReinstate, "TR", trust.RequesterReinstateArgs{Requester: id}), n.Gov("TR", "KZ")...)
	}
	steps := []struct {
		name   string
		data   []byte
		want   trust.Reason // "" accepted
		status string
	}{
		{"reinstate-active", rein("INT-UNHCR"), trust.ReasonConflict, trust.StatusActive},
		{"suspend", sus("INT-UNHCR"), "", trust.StatusSuspended},
		{"suspend-suspended", sus("INT-UNHCR"), trust.ReasonConflict, trust.StatusSuspended},
		{"suspend-unknown", sus("INT-IOM"), trust.ReasonNotFound, trust.StatusSuspended},
		{"suspend-bad-id", sus("INT"), trust.ReasonMalformedCommand, trust.StatusSuspended},
		{"reinstate", rein("INT-UNHCR"), "", trust.StatusActive},
	}
	for _, st := range steps {
		next, res := n.Apply(s, st.data)
		if (st.want == "" && res.Outcome != trust.OutcomeAccepted) || (st.want != "" && res.Reason != st.want) {
			t.Fatalf("%s: %s %s (%s), want %q", st.name, res.Outcome, res.Reason, res.Detail, st.want)
		}
		s = next
		v := trust.NewView(s)
		if r, _ := v.Requester("INT-UNHCR"); r.Status != st.status {
			t.Fatalf("%s: status %s, want %s", st.name, r.Status, st.status)
		}
		if err := v.RequesterKeyValidAt(k.Kid(), n.Now.Time()); err != nil {
			t.Fatalf("%s: the status changed key validity: %v", st.name, err)
		}
		n.Advance(time.Minute)
	}
	r, _ := s.Requester("INT-UNHCR")
	if len(r.History) != 3 || r.History[1].Status != trust.StatusSuspended {
		t.Errorf("history: %+v", r.History)
	}
}

// TestRequesterKeyRevoke is REGISTRY.md §7.1 "Compromise": key.revoke of a
// requester key is always a network decision; compromised since T, every
// query at or after T fails; key.retire of it is NOT_FOUND.
func TestRequesterKeyRevoke(t *testing.T) {
	n, s, k := withUNHCR(t)
	n.Advance(time.Hour)
	T := n.Now - 600
	revoke := func(signers ...string) []byte {
		return n.Sign(n.Command(trust.CmdKeyRevoke, signers[0], trust.KeyRevokeArgs{Kid: k.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: T}), n.Gov(signers...)...)
	}
	if _, res := n.Apply(s, revoke("TJ")); res.Reason != trust.ReasonBelowThreshold {
		t.Fatalf("one member revoking a requester key: %s %s, want BELOW_THRESHOLD", res.Outcome, res.Reason)
	}
	if _, res := n.Apply(s, n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: k.Kid()}), n.Gov("TJ")...)); res.Reason != trust.ReasonNotFound {
		t.Fatalf("key.retire of a requester key: %s %s, want NOT_FOUND", res.Outcome, res.Reason)
	}
	s = n.MustApply(s, revoke("TJ", "TR"), trust.OutcomeAccepted)
	v := trust.NewView(s)
	if err := v.RequesterKeyValidAt(k.Kid(), (T - 1).Time()); err != nil {
		t.Errorf("before T: %v", err)
	}
	if err := v.RequesterKeyValidAt(k.Kid(), T.Time()); codeOf(err) != protocol.CodeKeyNotValid {
		t.Errorf("at T: %v, want KEY_NOT_VALID", err)
	}
	if _, res := n.Apply(s, revoke("TJ", "TR")); res.Reason != trust.ReasonConflict {
		t.Errorf("revoking again since the same T: %s %s, want CONFLICT", res.Outcome, res.Reason)
	}
	// A requester key cannot be rotated or added to by a member command.
	if _, res := n.Apply(s, n.Sign(n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: k.Kid(), Key: n.Spec(n.NewKey("TJ", jws.AlgES256), trust.RoleSigning, n.Now)}), n.Gov("TJ")...)); res.Outcome != trust.OutcomeRejected {
		t.Errorf("key.rotate of a requester key: %s", res.Outcome)
	}
}

// TestNodeRegisterRequesterPin is REGISTRY.md §7.1: a node may not take a
// requester's pin or id.
func TestNodeRegisterRequesterPin(t *testing.T) {
	n, s, _ := withUNHCR(t)
	ns := trusttest.NodeSpec("TJ", 2, trust.RoleNonvoter)
	ns.TLSSPKISHA256 = trusttest.RequesterPin("INT-UNHCR")
	if _, res := n.Apply(s, n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: ns}), n.Gov("TJ")...)); res.Reason != trust.ReasonConflict {
		t.Fatalf("node with a requester's pin: %s %s, want CONFLICT", res.Outcome, res.Reason)
	}
	s = n.MustApply(s, register(n, n.RequesterSpec("TJ-BORDER", n.RequesterKey("TJ-BORDER"))), trust.OutcomeAccepted)
	ns = trusttest.NodeSpec("TJ", 2, trust.RoleNonvoter)
	ns.ID = "TJ-BORDER"
	if _, res := n.Apply(s, n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: ns}), n.Gov("TJ")...)); res.Reason != trust.ReasonConflict {
		t.Fatalf("node with a requester's id: %s %s, want CONFLICT", res.Outcome, res.Reason)
	}
}

// TestRequesterEncodingOmittedWhenEmpty is REGISTRY.md §2: a state without
// requesters has no "requesters" member, so it hashes as before; a state
// with one survives a snapshot round trip, and a hand-made empty member is
// refused.
func TestRequesterEncodingOmittedWhenEmpty(t *testing.T) {
	n, s := net3(t)
	snap, err := trust.MarshalSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap, []byte(`"requesters"`)) {
		t.Fatal("a state without requesters encodes a requesters member")
	}
	s = n.MustApply(s, register(n, n.RequesterSpec("INT-UNHCR", n.RequesterKey("INT-UNHCR"))), trust.OutcomeAccepted)
	snap, err = trust.MarshalSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := trust.RestoreSnapshot(snap, n.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != s.Hash() {
		t.Fatal("round trip changed the hash")
	}
	r, _ := s.Requester("INT-UNHCR")
	if _, ok := trust.NewView(back).RequesterKeys().LookupKey(r.Keys[0].Kid); !ok {
		t.Fatal("restored view lost the requester key")
	}
}

// TestRequesterReplay is REGISTRY.md §12: an offline replay of a bundle
// gives a view with the requesters.
func TestRequesterReplay(t *testing.T) {
	n, s := net3(t)
	var entries []trust.Entry
	apply := func(data []byte) {
		e := n.Entry(data)
		next, res, err := trust.Apply(s, e)
		if err != nil || res.Outcome != trust.OutcomeAccepted {
			t.Fatalf("%v %s %s", err, res.Reason, res.Detail)
		}
		s, entries = next, append(entries, e)
	}
	k := n.RequesterKey("INT-UNHCR")
	apply(register(n, n.RequesterSpec("INT-UNHCR", k)))
	apply(n.Sign(n.Command(trust.CmdRequesterSuspend, "TJ", trust.RequesterSuspendArgs{Requester: "INT-UNHCR", Reason: "audit"}), n.Gov("TJ", "KZ")...))
	raw, err := trust.NewBundle(n.Genesis, entries, s.ChainHead()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := trust.Replay(b, n.Genesis.Hash())
	if err != nil {
		t.Fatal(err)
	}
	v := trust.NewView(got)
	if r, ok := v.Requester("INT-UNHCR"); !ok || r.Status != trust.StatusSuspended {
		t.Fatalf("replayed view: %+v %v", r, ok)
	}
	if _, ok := v.RequesterKeys().LookupKey(k.Kid()); !ok {
		t.Fatal("replayed view has no requester key")
	}
}

// TestIsRequesterID is SPEC §11.1's id form with REGISTRY.md §1's bound.
func TestIsRequesterID(t *testing.T) {
	for id, want := range map[string]bool{
		"INT-UNHCR": true, "KG-BORDER": true, "INT-IOM-KG-1": true, "INT": false, "KG": false,
		"INTL-UNHCR": false, "kg-border": false, "KG-": false, "KG-A-B-C-D-E-F-G": false,
		"INT-" + strings.Repeat("A", 60): true, "INT-" + strings.Repeat("A", 61): false,
	} {
		if got := protocol.IsRequesterID(id); got != want {
			t.Errorf("IsRequesterID(%q) = %v, want %v", id, got, want)
		}
	}
}
