package trust_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// net3 is the network of most tests: TJ, TR, KZ; network commands need 2.
func net3(t *testing.T) (*trusttest.Network, *trust.State) {
	t.Helper()
	n := trusttest.New(t, "TJ", "TR", "KZ")
	return n, n.State()
}

func suspend(n *trusttest.Network, issuer, member string) trust.Command {
	return n.Command(trust.CmdMemberSuspend, issuer, trust.SuspendArgs{Member: member, Reason: "audit"})
}

func approve(n *trusttest.Network, issuer string, p trust.Proposal) trust.Command {
	return n.Command(trust.CmdProposalApprove, issuer, trust.ApproveArgs{Proposal: p.ID, PayloadSHA256: p.PayloadSHA256})
}

// payloadOf returns the payload of the first JWS of entry data.
func payloadOf(t *testing.T, data []byte) []byte {
	t.Helper()
	tok := bytes.SplitN(data, []byte{'\n'}, 2)[0]
	p, err := base64.RawURLEncoding.DecodeString(strings.Split(string(tok), ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signRaw signs arbitrary payload bytes.
func signRaw(t *testing.T, payload []byte, signers ...*jws.Signer) []byte {
	t.Helper()
	data, err := trust.SignPayload(payload, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestApplyRefuses is REGISTRY.md §5–§7: every hostile command is refused
// with its reason, and the content (State.Hash) does not change.
func TestApplyRefuses(t *testing.T) {
	type setup func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte)
	cases := []struct {
		name string
		want trust.Reason
		// authenticated: the signatures verified, so the id is burnt.
		authenticated bool
		run           setup
	}{
		{"fail/empty-entry", trust.ReasonMalformedEntry, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, []byte{}
		}},
		{"fail/not-compact-jws", trust.ReasonMalformedEntry, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, []byte(`{"payload":"x","signatures":[]}`)
		}},
		{"fail/signatures-over-different-payloads", trust.ReasonMalformedEntry, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			a := n.Sign(suspend(n, "TJ", "KZ"), n.Member("TJ").Gov)
			b := n.Sign(suspend(n, "TJ", "KZ"), n.Member("TR").Gov)
			return s, trust.JoinSignatures(a, b)
		}},
		{"fail/same-key-signs-twice", trust.ReasonMalformedEntry, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			return s, n.Sign(c, n.Gov("TJ", "TJ")...)
		}},
		{"fail/payload-not-json", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, signRaw(t, []byte("not json"), n.Member("TJ").Gov)
		}},
		{"fail/payload-duplicate-member", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			p, _ := suspend(n, "TJ", "KZ").Payload()
			p = append([]byte(`{"id":"x",`), p[1:]...)
			return s, signRaw(t, p, n.Member("TJ").Gov)
		}},
		{"fail/payload-unknown-member", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			p, _ := suspend(n, "TJ", "KZ").Payload()
			p = append([]byte(`{"extra":1,`), p[1:]...)
			return s, signRaw(t, p, n.Member("TJ").Gov)
		}},
		{"fail/payload-member-name-in-other-case", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			p, _ := suspend(n, "TJ", "KZ").Payload()
			p = bytes.Replace(p, []byte(`"issuedAt"`), []byte(`"IssuedAt"`), 1)
			return s, signRaw(t, p, n.Member("TJ").Gov)
		}},
		{"fail/id-not-uuid", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			c.ID = "not-a-uuid"
			return s, n.Sign(c, n.Gov("TJ", "TR")...)
		}},
		{"fail/issued-at-with-fraction", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			p, _ := suspend(n, "TJ", "KZ").Payload()
			ts := []byte(`"` + n.Now.String() + `"`)
			p = bytes.Replace(p, ts, append(ts[:len(ts)-2:len(ts)-2], []byte(`.5Z"`)...), 1)
			return s, signRaw(t, p, n.Gov("TJ", "TR")...)
		}},
		{"fail/wrong-network", trust.ReasonWrongNetwork, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			c.Network = strings.Repeat("0", 64)
			return s, n.Sign(c, n.Gov("TJ", "TR")...)
		}},
		{"fail/unknown-command-type", trust.ReasonUnknownType, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(n.Command("member.delete", "TJ", map[string]string{}), n.Member("TJ").Gov)
		}},
		{"fail/genesis-endorsement-as-command", trust.ReasonUnknownType, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Endorsements()[0]
		}},
		{"fail/args-unknown-member", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := n.Command(trust.CmdMemberSuspend, "TJ", map[string]string{"member": "KZ", "reason": "x", "also": "y"})
			return s, n.Sign(c, n.Gov("TJ", "TR")...)
		}},
		{"fail/propose-self-command", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: n.Member("TJ").Sig.Kid()})
			c.Propose = true
			return s, n.Sign(c, n.Member("TJ").Gov)
		}},
		{"fail/bad-signature", trust.ReasonBadSignature, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			data := n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...)
			i := bytes.LastIndexByte(data, '.') + 5
			data[i] ^= 'A' ^ 'B'
			if data[i] == '.' || data[i] == '\n' {
				data[i] = 'A'
			}
			return s, data
		}},
		{"fail/missing-signature", trust.ReasonBadSignature, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			data := n.Sign(suspend(n, "TJ", "KZ"), n.Member("TJ").Gov)
			return s, data[:bytes.LastIndexByte(data, '.')+1]
		}},
		{"fail/alg-none", trust.ReasonBadSignature, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			p, _ := suspend(n, "TJ", "KZ").Payload()
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + n.Member("TJ").Gov.Kid() + `","typ":"crvs-registry-cmd+jws"}`))
			return s, []byte(h + "." + base64.RawURLEncoding.EncodeToString(p) + ".")
		}},
		{"fail/typ-of-a-message", trust.ReasonBadSignature, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			p, _ := suspend(n, "TJ", "KZ").Payload()
			tok, err := n.Member("TJ").Gov.Sign(protocol.TypEvent, p)
			if err != nil {
				t.Fatal(err)
			}
			return s, tok
		}},
		{"fail/signed-by-unknown-key", trust.ReasonUnknownKey, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			stranger := n.NewKey("TJ", jws.AlgES256)
			return s, n.Sign(suspend(n, "TJ", "KZ"), stranger, n.Member("TR").Gov)
		}},
		{"fail/replayed-command-id", trust.ReasonReplayedID, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			data := n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...)
			s = n.MustApply(s, data, trust.OutcomeAccepted)
			reinstate := n.Sign(n.Command(trust.CmdMemberReinstate, "TJ", trust.ReinstateArgs{Member: "KZ"}), n.Gov("TJ", "TR")...)
			s = n.MustApply(s, reinstate, trust.OutcomeAccepted)
			return s, data // the same suspension again
		}},
		{"fail/replayed-id-of-rejected-command", trust.ReasonReplayedID, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeRejected) // below threshold, id burnt
			return s, n.Sign(c, n.Gov("TJ", "TR")...)
		}},
		{"fail/replayed-id-other-content", trust.ReasonReplayedID, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			s = n.MustApply(s, n.Sign(c, n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
			c2 := n.Command(trust.CmdSchemaPublish, "TJ", trust.SchemaPublishArgs{Version: "1.1.0", SHA256: strings.Repeat("ab", 32)})
			c2.ID = c.ID
			return s, n.Sign(c2, n.Gov("TJ", "TR")...)
		}},
		{"fail/command-older-than-skew-allows", trust.ReasonTooOld, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			n.Advance(24*time.Hour + 5*time.Minute + time.Second)
			// Move consensus time with another command first.
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdSchemaPublish, "TJ", trust.SchemaPublishArgs{Version: "1.1.0", SHA256: strings.Repeat("ab", 32)}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
			return s, n.Sign(c, n.Gov("TJ", "TR")...)
		}},
		{"fail/command-from-future", trust.ReasonFromFuture, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			c.IssuedAt = n.Now + 301
			return s, n.Sign(c, n.Gov("TJ", "TR")...)
		}},
		{"fail/signed-by-signing-key", trust.ReasonKeyNotGovernance, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(suspend(n, "TJ", "KZ"), n.Member("TJ").Sig, n.Member("TR").Gov)
		}},
		{"fail/signed-by-suspended-member", trust.ReasonSignerNotActive, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			s = n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
			return s, n.Sign(suspend(n, "KZ", "TJ"), n.Gov("KZ", "TR")...)
		}},
		{"fail/signed-by-revoked-key", trust.ReasonKeyNotValid, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			kz := n.Member("KZ").Gov.Kid()
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRevoke, "TJ", trust.KeyRevokeArgs{Kid: kz, Reason: trust.RevokeCompromised, CompromisedSince: n.Now - 10}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
			return s, n.Sign(suspend(n, "KZ", "TJ"), n.Gov("KZ", "TR")...)
		}},
		{"fail/signed-by-retired-key", trust.ReasonKeyNotValid, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			newGov := n.NewKey("TJ", jws.AlgEdDSA)
			rot := n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Gov.Kid(), Key: n.Spec(newGov, trust.RoleGovernance, n.Now-60)})
			s = n.MustApply(s, n.Sign(rot, tj.Gov, newGov), trust.OutcomeAccepted)
			n.Advance(time.Second)
			return s, n.Sign(suspend(n, "TJ", "KZ"), tj.Gov, n.Member("TR").Gov)
		}},
		{"fail/key-not-yet-valid", trust.ReasonKeyNotValid, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			later := n.NewKey("TJ", jws.AlgES256)
			add := n.Command(trust.CmdKeyAdd, "TJ", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(later, trust.RoleGovernance, n.Now+3600)})
			s = n.MustApply(s, n.Sign(add, tj.Gov, later), trust.OutcomeAccepted)
			return s, n.Sign(suspend(n, "TJ", "KZ"), later, n.Member("TR").Gov)
		}},
		{"fail/alg-removed-by-policy", trust.ReasonAlgNotAllowed, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			ed := n.NewKey("TJ", jws.AlgEdDSA)
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyAdd, "TJ", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(ed, trust.RoleGovernance, n.Now-60)}), tj.Gov, ed), trust.OutcomeAccepted)
			pol := trusttest.DefaultPolicy()
			pol.Algorithms = []string{jws.AlgES256}
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdPolicyChange, "TJ", trust.PolicyChangeArgs{Policy: pol}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
			return s, n.Sign(suspend(n, "TJ", "KZ"), ed, n.Member("TR").Gov)
		}},
		{"fail/issuer-did-not-sign", trust.ReasonIssuerNotSigner, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(suspend(n, "KZ", "TJ"), n.Gov("TR", "TJ")...)
		}},
		{"fail/rotation-without-proof-of-possession", trust.ReasonMissingPoP, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			newGov := n.NewKey("TJ", jws.AlgES256)
			rot := n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Gov.Kid(), Key: n.Spec(newGov, trust.RoleGovernance, n.Now-60)})
			return s, n.Sign(rot, tj.Gov)
		}},
		{"fail/rotation-without-governance-signature", trust.ReasonIssuerNotSigner, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			newGov := n.NewKey("TJ", jws.AlgES256)
			rot := n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Gov.Kid(), Key: n.Spec(newGov, trust.RoleGovernance, n.Now-60)})
			return s, n.Sign(rot, newGov)
		}},
		{"fail/admission-without-proof-of-possession", trust.ReasonMissingPoP, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			uz := n.AddMember("UZ")
			adm := n.Command(trust.CmdMemberAdmit, "TJ", trust.AdmitArgs{Member: "UZ", Name: "Uzbekistan",
				Keys: []trust.KeySpec{n.Spec(uz.Gov, trust.RoleGovernance, n.Now-60), n.Spec(uz.Sig, trust.RoleSigning, n.Now-60)}})
			return s, n.Sign(adm, n.Member("TJ").Gov, n.Member("TR").Gov, uz.Gov) // uz.Sig missing
		}},
		{"fail/introduced-key-already-registered", trust.ReasonConflict, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			add := n.Command(trust.CmdKeyAdd, "TJ", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(tj.Sig, trust.RoleSigning, n.Now)})
			return s, n.Sign(add, tj.Gov, tj.Sig)
		}},
		{"fail/self-command-on-other-members-key", trust.ReasonNotAuthorized, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: n.Member("TR").Sig.Kid()}), n.Member("TJ").Gov)
		}},
		{"fail/self-command-cosigned-by-other-member", trust.ReasonNotAuthorized, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: n.Member("TJ").Sig.Kid()}), n.Gov("TJ", "TR")...)
		}},
		{"fail/below-threshold", trust.ReasonBelowThreshold, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(suspend(n, "TJ", "KZ"), n.Member("TJ").Gov)
		}},
		{"fail/below-threshold-two-keys-of-one-member", trust.ReasonBelowThreshold, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			g2 := n.NewKey("TJ", jws.AlgES256)
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyAdd, "TJ", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(g2, trust.RoleGovernance, n.Now-60)}), tj.Gov, g2), trust.OutcomeAccepted)
			return s, n.Sign(suspend(n, "TJ", "KZ"), tj.Gov, g2)
		}},
		{"fail/network-revocation-by-one-member", trust.ReasonBelowThreshold, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(n.Command(trust.CmdKeyRevoke, "TJ", trust.KeyRevokeArgs{Kid: n.Member("KZ").Sig.Kid(), Reason: trust.RevokeRetired}), n.Member("TJ").Gov)
		}},
		{"fail/proposal-unknown", trust.ReasonProposalUnknown, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := n.Command(trust.CmdProposalApprove, "TR", trust.ApproveArgs{Proposal: n.NextID(), PayloadSHA256: strings.Repeat("0", 64)})
			return s, n.Sign(c, n.Member("TR").Gov)
		}},
		{"fail/expired-proposal", trust.ReasonProposalExpired, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			c.Propose = true
			s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
			p, _ := s.Proposal(c.ID)
			n.Advance(7*24*time.Hour + time.Second)
			return s, n.Sign(approve(n, "TR", p), n.Member("TR").Gov)
		}},
		{"fail/approval-digest-mismatch", trust.ReasonDigestMismatch, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			c.Propose = true
			s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
			p, _ := s.Proposal(c.ID)
			p.PayloadSHA256 = strings.Repeat("1", 64)
			return s, n.Sign(approve(n, "TR", p), n.Member("TR").Gov)
		}},
		{"fail/approve-twice", trust.ReasonAlreadyApproved, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			pol := trusttest.DefaultPolicy()
			pol.Thresholds[trust.CmdMemberSuspend] = trust.Threshold{Numerator: 1, Denominator: 1, Minimum: 1} // all three
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdPolicyChange, "TJ", trust.PolicyChangeArgs{Policy: pol}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
			c := suspend(n, "TJ", "KZ")
			c.Propose = true
			s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
			p, _ := s.Proposal(c.ID)
			s = n.MustApply(s, n.Sign(approve(n, "TR", p), n.Member("TR").Gov), trust.OutcomeApproved)
			return s, n.Sign(approve(n, "TR", p), n.Member("TR").Gov)
		}},
		{"fail/proposal-that-cannot-execute", trust.ReasonNotFound, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "UZ")
			c.Propose = true
			return s, n.Sign(c, n.Member("TJ").Gov)
		}},
		{"fail/proposal-execution-fails-at-last-approval", trust.ReasonConflict, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			c := suspend(n, "TJ", "KZ")
			c.Propose = true
			s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
			p, _ := s.Proposal(c.ID)
			// KZ is suspended by another command in the meantime.
			s = n.MustApply(s, n.Sign(suspend(n, "TR", "KZ"), n.Gov("TR", "TJ")...), trust.OutcomeAccepted)
			return s, n.Sign(approve(n, "TR", p), n.Member("TR").Gov)
		}},
		{"fail/admit-existing-member", trust.ReasonConflict, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			k := n.NewKey("KZ", jws.AlgES256)
			adm := n.Command(trust.CmdMemberAdmit, "TJ", trust.AdmitArgs{Member: "KZ", Name: "again", Keys: []trust.KeySpec{n.Spec(k, trust.RoleGovernance, n.Now)}})
			return s, n.Sign(adm, n.Member("TJ").Gov, n.Member("TR").Gov, k)
		}},
		{"fail/admission-requires-certificate", trust.ReasonCertificateNeeded, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			pol := trusttest.DefaultPolicy()
			pol.AdmissionRequiresCertificate = true
			s = n.MustApply(s, n.Sign(n.Command(trust.CmdPolicyChange, "TJ", trust.PolicyChangeArgs{Policy: pol}), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
			uz := n.AddMember("UZ")
			adm := n.Command(trust.CmdMemberAdmit, "TJ", trust.AdmitArgs{Member: "UZ", Name: "Uzbekistan", Keys: []trust.KeySpec{n.Spec(uz.Gov, trust.RoleGovernance, n.Now)}})
			return s, n.Sign(adm, n.Member("TJ").Gov, n.Member("TR").Gov, uz.Gov)
		}},
		{"fail/retire-last-governance-key", trust.ReasonConflict, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			return s, n.Sign(n.Command(trust.CmdKeyRetire, "TJ", trust.KeyRetireArgs{Kid: tj.Gov.Kid()}), tj.Gov)
		}},
		{"fail/rotate-to-other-role", trust.ReasonInvalidArgument, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			k := n.NewKey("TJ", jws.AlgES256)
			rot := n.Command(trust.CmdKeyRotate, "TJ", trust.KeyRotateArgs{Old: tj.Sig.Kid(), Key: n.Spec(k, trust.RoleGovernance, n.Now)})
			return s, n.Sign(rot, tj.Gov, k)
		}},
		{"fail/node-register-with-taken-pin", trust.ReasonConflict, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			ns := trusttest.NodeSpec("TJ", 2, trust.RoleNonvoter)
			ns.TLSSPKISHA256 = trusttest.NodeSpec("TR", 1, trust.RoleVoter).TLSSPKISHA256
			return s, n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: ns}), n.Member("TJ").Gov)
		}},
		{"fail/node-of-other-member", trust.ReasonMalformedCommand, false, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			ns := trusttest.NodeSpec("TR", 2, trust.RoleNonvoter)
			return s, n.Sign(n.Command(trust.CmdNodeRegister, "TJ", trust.NodeRegisterArgs{Node: ns}), n.Member("TJ").Gov)
		}},
		{"fail/policy-without-thresholds", trust.ReasonInvalidArgument, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			pol := trusttest.DefaultPolicy()
			delete(pol.Thresholds, trust.CmdMemberSuspend)
			return s, n.Sign(n.Command(trust.CmdPolicyChange, "TJ", trust.PolicyChangeArgs{Policy: pol}), n.Gov("TJ", "TR")...)
		}},
		{"fail/revoke-compromise-in-the-future", trust.ReasonInvalidArgument, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			tj := n.Member("TJ")
			return s, n.Sign(n.Command(trust.CmdKeyRevoke, "TJ", trust.KeyRevokeArgs{Kid: tj.Sig.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: n.Now + 3600}), tj.Gov)
		}},
		{"fail/reinstate-active-member", trust.ReasonConflict, true, func(t *testing.T, n *trusttest.Network, s *trust.State) (*trust.State, []byte) {
			return s, n.Sign(n.Command(trust.CmdMemberReinstate, "TJ", trust.ReinstateArgs{Member: "KZ"}), n.Gov("TJ", "TR")...)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, s := net3(t)
			before, data := tc.run(t, n, s)
			after, res := n.Apply(before, data)
			if res.Outcome != trust.OutcomeRejected || res.Reason != tc.want {
				t.Fatalf("outcome %s reason %s (%s), want rejected %s", res.Outcome, res.Reason, res.Detail, tc.want)
			}
			if trust.ReasonOf(res.Err()) != tc.want {
				t.Errorf("Err() = %v", res.Err())
			}
			if after.Hash() != before.Hash() {
				t.Errorf("state hash changed: %s → %s", before.Hash(), after.Hash())
			}
			if after.ChainHead() == before.ChainHead() || after.AppliedIndex() != res.Index {
				t.Errorf("journal did not advance")
			}
			rej := after.Rejections()
			if len(rej) == 0 || rej[len(rej)-1].Reason != tc.want || rej[len(rej)-1].Index != res.Index {
				t.Errorf("rejection not recorded: %+v", rej)
			}
			if tc.authenticated {
				if _, used := after.UsedID(res.CommandID); !used || res.CommandID == "" {
					t.Errorf("authenticated command id %q not burnt", res.CommandID)
				}
			} else if res.CommandID != "" || len(after.Rejections()) > 0 && after.Rejections()[len(after.Rejections())-1].ID != "" {
				t.Errorf("unauthenticated entry attributed to command %q", res.CommandID)
			}
			if !tc.authenticated && after.ConsensusTime() != before.ConsensusTime() {
				t.Errorf("unauthenticated entry moved consensus time")
			}
		})
	}
}

func TestUnauthenticatedEntryDoesNotBurnID(t *testing.T) {
	n, s := net3(t)
	c := suspend(n, "TJ", "KZ")
	stranger := n.NewKey("TJ", jws.AlgES256)
	s = n.MustApply(s, n.Sign(c, stranger), trust.OutcomeRejected)
	s = n.MustApply(s, n.Sign(c, n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
	if m, _ := s.Member("KZ"); m.Status != trust.StatusSuspended {
		t.Fatalf("KZ is %s", m.Status)
	}
}

func TestIndexOrder(t *testing.T) {
	n, s := net3(t)
	s = n.MustApply(s, n.Sign(suspend(n, "TJ", "KZ"), n.Gov("TJ", "TR")...), trust.OutcomeAccepted)
	got, _, err := trust.Apply(s, trust.Entry{Index: s.AppliedIndex(), Time: n.Now, Data: []byte("x")})
	if err == nil || got != s {
		t.Fatalf("err %v; state replaced: %v", err, got != s)
	}
}
