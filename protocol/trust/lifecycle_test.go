package trust_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

func TestApplyAccepts(t *testing.T) {
	t.Run("ok/several-signatures-on-one-command", func(t *testing.T) {
		n, s := net3(t)
		s = n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
		m, _ := s.Member("KZ")
		if m.Status != trust.StatusSuspended || m.StatusAt(n.Now-1) != trust.StatusActive || m.StatusAt(n.Now) != trust.StatusSuspended {
			t.Fatalf("member %+v", m)
		}
	})
	t.Run("ok/propose-then-approve", func(t *testing.T) {
		n, s := net3(t)
		c := suspend(n, "TJ", "KZ")
		c.Propose = true
		s0 := s
		s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
		if s.Hash() == s0.Hash() {
			t.Fatal("a proposal is content")
		}
		p, ok := s.Proposal(c.ID)
		if !ok || len(p.Approvals) != 1 || p.ExpiresAt != n.Now+7*86400 {
			t.Fatalf("proposal %+v", p)
		}
		if m, _ := s.Member("KZ"); m.Status != trust.StatusActive {
			t.Fatal("a proposal must not take effect")
		}
		n.Advance(time.Hour)
		s, res := n.Apply(s, n.Sign(approve(n, "TR", p), n.Member("TR").Gov))
		if res.Outcome != trust.OutcomeAccepted || res.Proposal != c.ID {
			t.Fatalf("result %+v", res)
		}
		if m, _ := s.Member("KZ"); m.Status != trust.StatusSuspended {
			t.Fatal("proposal not executed")
		}
		if _, open := s.Proposal(c.ID); open {
			t.Fatal("executed proposal still open")
		}
	})
	t.Run("ok/one-approval-entry-signed-by-several-members", func(t *testing.T) {
		n := trusttest.New(t, "TJ", "TR", "KZ", "UZ", "KG")
		s := n.State()
		c := suspend(n, "TJ", "KG") // ⌈5·2/3⌉ = 4
		c.Propose = true
		s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
		p, _ := s.Proposal(c.ID)
		s = n.MustApply(s, n.Sign(approve(n, "TR", p), n.Gov("TR", "KZ")...), trust.OutcomeApproved)
		s = n.MustApply(s, n.Sign(approve(n, "UZ", p), n.Gov("UZ")...), trust.OutcomeAccepted)
		if m, _ := s.Member("KG"); m.Status != trust.StatusSuspended {
			t.Fatal("not executed")
		}
	})
	t.Run("ok/approval-by-compromised-key-does-not-count", func(t *testing.T) {
		n := trusttest.New(t, "TJ", "TR", "KZ", "UZ")
		s := n.State()
		c := suspend(n, "TJ", "UZ") // ⌈4·2/3⌉ = 3
		c.Propose = true
		s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
		p, _ := s.Proposal(c.ID)
		// The network learns that TJ's governance key was stolen before
		// it proposed; TJ gets a new governance key.
		tj := n.Member("TJ")
		g2 := n.NewKey("TJ", jws.AlgES256)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyAdd, "TR", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(g2, trust.RoleGovernance, n.Now)}), append(n.Gov("TR", "KZ", "UZ"), g2)...), trust.OutcomeAccepted)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRevoke, "TR", trust.KeyRevokeArgs{Kid: tj.Gov.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: p.CreatedAt - 1}), n.Gov("TR", "KZ", "UZ")...), trust.OutcomeAccepted)
		// TR and KZ approve: 2 valid approvals of 3 needed.
		s = n.MustApply(s, n.Sign(approve(n, "TR", p), n.Gov("TR", "KZ")...), trust.OutcomeApproved)
		if m, _ := s.Member("UZ"); m.Status != trust.StatusActive {
			t.Fatal("executed with an approval by a compromised key")
		}
		// TR cannot approve twice.
		_, res := n.Apply(s, n.Sign(approve(n, "TR", p), n.Gov("TR")...))
		if res.Reason != trust.ReasonAlreadyApproved {
			t.Fatalf("TR re-approval: %+v", res)
		}
		// TJ approves again with its new key: that one replaces the
		// approval that no longer counts, and the proposal executes.
		s = n.MustApply(s, n.Sign(approve(n, "TJ", p), g2), trust.OutcomeAccepted)
		if m, _ := s.Member("UZ"); m.Status != trust.StatusSuspended {
			t.Fatal("not executed")
		}
	})
	t.Run("ok/rotation-with-proof-of-possession", func(t *testing.T) {
		n, s := net3(t)
		tj := n.Member("TJ")
		newGov := n.NewKey("TJ", jws.AlgEdDSA)
		rot := n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Gov.Kid(), Key: n.Spec(newGov, trust.RoleGovernance, n.Now-60)})
		s = n.MustApply(s, n.Sign(rot, tj.Gov, newGov), trust.OutcomeAccepted)
		old, _ := s.Key(tj.Gov.Kid())
		nk, _ := s.Key(newGov.Kid())
		if old.Status != trust.KeyRetired || old.RetiredAt != n.Now || nk.Status != trust.KeyActive || nk.AddedVia != trust.ViaSelf || !slices.Equal(nk.AddedBy, []string{tj.Gov.Kid()}) {
			t.Fatalf("old %+v new %+v", old, nk)
		}
		n.Advance(time.Second)
		n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), newGov, n.Member("TR").Gov), trust.OutcomeAccepted)
	})
	t.Run("ok/admit-member-with-proof-of-possession", func(t *testing.T) {
		n, s := net3(t)
		uz := n.AddMember("UZ")
		adm := n.Command(trust.CmdMemberAdmit, "TJ", trust.AdmitArgs{Member: "UZ", Name: "Uzbekistan",
			Keys: []trust.KeySpec{n.Spec(uz.Gov, trust.RoleGovernance, n.Now-60), n.Spec(uz.Sig, trust.RoleSigning, n.Now-60)}})
		s = n.MustApply(s, n.Sign(adm, n.Member("TJ").Gov, n.Member("TR").Gov, uz.Gov, uz.Sig), trust.OutcomeAccepted)
		if m, _ := s.Member("UZ"); m.Status != trust.StatusActive {
			t.Fatal("not admitted")
		}
		if k, _ := s.Key(uz.Sig.Kid()); k.Alg != jws.AlgEdDSA || k.Role != trust.RoleSigning || k.AddedVia != trust.ViaNetwork {
			t.Fatalf("key %+v", k)
		}
		if need, _ := s.RequiredApprovals(trust.CmdMemberSuspend); need != 3 {
			t.Fatalf("4 members need 3, got %d", need)
		}
		n.MustApply(s, n.Sign(n.Command(trust.CmdNodeRegister, "UZ", trust.NodeRegisterArgs{Node: trusttest.NodeSpec("UZ", 1, trust.RoleVoter)}), uz.Gov), trust.OutcomeAccepted)
	})
	t.Run("ok/node-register-then-promote", func(t *testing.T) {
		n, s := net3(t)
		ns := trusttest.NodeSpec("KZ", 2, trust.RoleVoter)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdNodeRegister, "KZ", trust.NodeRegisterArgs{Node: ns}), n.Member("KZ").Gov), trust.OutcomeAccepted)
		nd, _ := s.Node(ns.ID)
		if nd.Role != trust.RoleNonvoter || nd.DesiredRole != trust.RoleVoter {
			t.Fatalf("a node joins as a non-voter: %+v", nd)
		}
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdNodeSetRole, "TJ", trust.NodeSetRoleArgs{Node: ns.ID, Role: trust.RoleVoter}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
		if nd, _ := s.Node(ns.ID); nd.Role != trust.RoleVoter {
			t.Fatal("not promoted")
		}
		if v, ok := trust.NewView(s).NodeByPin(ns.TLSSPKISHA256); !ok || v.ID != ns.ID {
			t.Fatal("trust view does not find the node by pin")
		}
	})
	t.Run("ok/compromise-cascade", func(t *testing.T) {
		n, s := net3(t)
		tj := n.Member("TJ")
		// A spare governance key, added before the compromise, survives.
		spare := n.NewKey("TJ", jws.AlgES256)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyAdd, "TJ", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(spare, trust.RoleGovernance, n.Now)}), tj.Gov, spare), trust.OutcomeAccepted)
		n.Advance(time.Hour)
		T := n.Now
		// The thief adds its own key and points a node at itself.
		thief := n.NewKey("TJ", jws.AlgES256)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyAdd, "TJ", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(thief, trust.RoleSigning, n.Now)}), tj.Gov, thief), trust.OutcomeAccepted)
		evil := trusttest.NodeSpec("TJ", 9, trust.RoleNonvoter)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: evil}), tj.Gov), trust.OutcomeAccepted)
		n.Advance(time.Hour)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRevoke, "TR", trust.KeyRevokeArgs{Kid: tj.Gov.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: T}), n.Gov("TR", "KZ")...), trust.OutcomeAccepted)
		if k, _ := s.Key(thief.Kid()); k.Status != trust.KeyRevoked || k.CompromisedSince != k.NotBefore {
			t.Fatalf("thief's key survived: %+v", k)
		}
		if _, ok := s.Node(evil.ID); ok {
			t.Fatal("thief's node survived")
		}
		if k, _ := s.Key(spare.Kid()); k.Status != trust.KeyActive {
			t.Fatalf("spare key revoked: %+v", k)
		}
		if _, ok := s.Node("TJ-N1"); !ok {
			t.Fatal("genesis node removed")
		}
	})
	t.Run("ok/withdraw-removes-nodes", func(t *testing.T) {
		n, s := net3(t)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdMemberWithdraw, "KZ", trust.WithdrawArgs{Member: "KZ"}), n.Member("KZ").Gov), trust.OutcomeAccepted)
		if _, ok := s.Node("KZ-N1"); ok {
			t.Fatal("node of withdrawn member kept")
		}
		if need, _ := s.RequiredApprovals(trust.CmdMemberSuspend); need != 2 {
			t.Fatalf("need %d", need)
		}
	})
	t.Run("ok/expired-proposals-are-pruned", func(t *testing.T) {
		n, s := net3(t)
		c := suspend(n, "TJ", "KZ")
		c.Propose = true
		s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
		n.Advance(8 * 24 * time.Hour)
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdSchemaPublish, "TJ", trust.SchemaPublishArgs{Version: "1.1.0", SHA256: trusttest.NodeSpec("TJ", 1, "").TLSSPKISHA256}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
		if len(s.Proposals()) != 0 {
			t.Fatal("expired proposal kept")
		}
	})
	t.Run("ok/certificate-then-admission", func(t *testing.T) {
		pol := trusttest.DefaultPolicy()
		pol.AdmissionRequiresCertificate = true
		n := trusttest.NewWithPolicy(t, pol, "TJ", "TR", "KZ")
		s := n.State()
		cert := trust.CertIssueArgs{ID: "conf-uz-1", Subject: "UZ", Suite: "conformance 1.0", ReportSHA256: trusttest.NodeSpec("UZ", 1, "").TLSSPKISHA256, NotBefore: n.Now - 10, NotAfter: n.Now + 86400*365}
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdCertIssue, "TJ", cert), n.Gov("TJ", "KZ")...), trust.OutcomeAccepted)
		uz := n.AddMember("UZ")
		adm := n.Command(trust.CmdMemberAdmit, "TJ", trust.AdmitArgs{Member: "UZ", Name: "Uzbekistan", Keys: []trust.KeySpec{n.Spec(uz.Gov, trust.RoleGovernance, n.Now)}})
		n.MustApply(s, n.Sign(adm, n.Member("TJ").Gov, n.Member("TR").Gov, uz.Gov), trust.OutcomeAccepted)
		// Revoked, it no longer admits.
		s = n.MustApply(s, n.Sign(n.Command(trust.CmdCertRevoke, "TJ", trust.CertRevokeArgs{ID: cert.ID, Reason: "report forged"}), n.Gov("TJ", "KZ")...), trust.OutcomeAccepted)
		adm2 := n.Command(trust.CmdMemberAdmit, "TJ", trust.AdmitArgs{Member: "UZ", Name: "Uzbekistan", Keys: []trust.KeySpec{n.Spec(uz.Gov, trust.RoleGovernance, n.Now)}})
		_, res := n.Apply(s, n.Sign(adm2, n.Member("TJ").Gov, n.Member("TR").Gov, uz.Gov))
		if res.Reason != trust.ReasonCertificateNeeded {
			t.Fatalf("%+v", res)
		}
	})
}

// TestConsensusTime is REGISTRY.md §9.
func TestConsensusTime(t *testing.T) {
	t.Run("ok/never-decreases-with-a-slow-leader", func(t *testing.T) {
		n, s := net3(t)
		n.Advance(time.Hour)
		s = n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
		t1 := s.ConsensusTime()
		// The next leader's clock is 2 minutes behind (within skew).
		c := n.Command(trust.CmdMemberReinstate, "TJ", trust.ReinstateArgs{Member: "KZ"})
		s, res, err := trust.Apply(s, trust.Entry{Index: s.AppliedIndex() + 1, Time: t1 - 120, Data: n.Sign(c, n.Gov("TJ", "TR")...)})
		if err != nil || res.Outcome != trust.OutcomeAccepted {
			t.Fatalf("%v %+v", err, res)
		}
		if s.ConsensusTime() != t1 {
			t.Fatalf("consensus time went from %s to %s", t1, s.ConsensusTime())
		}
	})
	t.Run("ok/fast-leader-clamped-to-issued-at-plus-skew", func(t *testing.T) {
		n, s := net3(t)
		c := suspend(n, "TJ", "KZ")
		s, res, err := trust.Apply(s, trust.Entry{Index: 1, Time: n.Now + 365*86400, Data: n.Sign(c, n.Gov("TJ", "TR")...)})
		if err != nil || res.Outcome != trust.OutcomeAccepted {
			t.Fatalf("%v %+v", err, res)
		}
		if want := c.IssuedAt + 300; s.ConsensusTime() != want {
			t.Fatalf("consensus time %s, want %s", s.ConsensusTime(), want)
		}
	})
	t.Run("fail/leader-clock-far-behind", func(t *testing.T) {
		n, s := net3(t)
		n.Advance(2 * time.Hour)
		c := suspend(n, "TJ", "KZ")
		_, res, _ := trust.Apply(s, trust.Entry{Index: 1, Time: n.Now - 3600, Data: n.Sign(c, n.Gov("TJ", "TR")...)})
		if res.Reason != trust.ReasonFromFuture {
			t.Fatalf("%+v", res)
		}
	})
}
