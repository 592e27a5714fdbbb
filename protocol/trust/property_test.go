package trust_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
)

// gen produces random command entries, valid and hostile, against the
// current state.
type gen struct {
	t       *testing.T
	n       *trusttest.Network
	rng     *rand.Rand
	signers map[string]*jws.Signer // every private key it ever made
	past    [][]byte
	version int
	nodes   int
}

func newGen(t *testing.T, n *trusttest.Network, seed uint64) *gen {
	g := &gen{t: t, n: n, rng: rand.New(rand.NewPCG(seed, 0x5eed)), signers: map[string]*jws.Signer{}}
	for _, m := range n.Members {
		g.signers[m.Gov.Kid()] = m.Gov
		g.signers[m.Sig.Kid()] = m.Sig
	}
	return g
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// gov returns a governance signer of member usable now, or any of its
// governance signers (maybe revoked) when none is.
func (g *gen) gov(s *trust.State, member string) *jws.Signer {
	var any *jws.Signer
	for _, k := range s.Keys() {
		if k.Member != member || k.Role != trust.RoleGovernance {
			continue
		}
		sg := g.signers[k.Kid]
		if sg == nil {
			continue
		}
		any = sg
		if k.Status == trust.KeyActive && k.NotBefore <= g.n.Now && g.n.Now < k.NotAfter {
			return sg
		}
	}
	return any
}

func (g *gen) members(s *trust.State) []string {
	var out []string
	for _, m := range s.Members() {
		out = append(out, m.ID)
	}
	return out
}

// signedBy signs c by the issuer and k-1 other random members.
func (g *gen) signedBy(s *trust.State, c trust.Command, k int, extra ...*jws.Signer) []byte {
	ms := g.members(s)
	g.rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	signers := []*jws.Signer{}
	if sg := g.gov(s, c.Member); sg != nil {
		signers = append(signers, sg)
	}
	for _, m := range ms {
		if len(signers) >= k {
			break
		}
		if sg := g.gov(s, m); m != c.Member && sg != nil {
			signers = append(signers, sg)
		}
	}
	return g.n.Sign(c, append(signers, extra...)...)
}

func (g *gen) next(s *trust.State) []byte {
	n := g.n
	ms := g.members(s)
	issuer := g.pick(ms)
	target := g.pick(append(ms, "UZ", "KG"))
	k := 1 + g.rng.IntN(4)
	var c trust.Command
	switch g.rng.IntN(14) {
	case 0:
		c = n.Command(trust.CmdMemberSuspend, issuer, trust.SuspendArgs{Member: target, Reason: "r"})
		c.Propose = g.rng.IntN(2) == 0
	case 1:
		c = n.Command(trust.CmdMemberReinstate, issuer, trust.ReinstateArgs{Member: target})
		c.Propose = g.rng.IntN(2) == 0
	case 2:
		ps := s.Proposals()
		if len(ps) == 0 {
			return g.garbage()
		}
		p := ps[g.rng.IntN(len(ps))]
		digest := p.PayloadSHA256
		if g.rng.IntN(5) == 0 {
			digest = sha256hex([]byte(digest))
		}
		c = n.Command(trust.CmdProposalApprove, issuer, trust.ApproveArgs{Proposal: p.ID, PayloadSHA256: digest})
		return g.signedBy(s, c, 1+g.rng.IntN(2))
	case 3:
		role := trust.RoleSigning
		if g.rng.IntN(2) == 0 {
			role = trust.RoleGovernance
		}
		key := n.NewKey(issuer, []string{jws.AlgES256, jws.AlgEdDSA}[g.rng.IntN(2)])
		g.signers[key.Kid()] = key
		c = n.Command(trust.CmdKeyAdd, issuer, trust.KeyAddArgs{Member: issuer, Key: n.Spec(key, role, n.Now-secs(g.rng.IntN(100)))})
		if g.rng.IntN(4) == 0 {
			return g.signedBy(s, c, 1) // no proof of possession
		}
		return g.signedBy(s, c, 1, key)
	case 4:
		old := g.gov(s, issuer)
		if old == nil {
			return g.garbage()
		}
		key := n.NewKey(issuer, jws.AlgES256)
		g.signers[key.Kid()] = key
		c = n.Command(trust.CmdKeyRotate, issuer, trust.KeyRotateArgs{Old: old.Kid(), Key: n.Spec(key, trust.RoleGovernance, n.Now)})
		return g.signedBy(s, c, 1, key)
	case 5:
		keys := s.Keys()
		key := keys[g.rng.IntN(len(keys))]
		c = n.Command(trust.CmdKeyRevoke, issuer, trust.KeyRevokeArgs{Kid: key.Kid, Reason: trust.RevokeCompromised, CompromisedSince: n.Now - secs(g.rng.IntN(7200))})
		c.Propose = g.rng.IntN(2) == 0
	case 6:
		keys := s.Keys()
		key := keys[g.rng.IntN(len(keys))]
		c = n.Command(trust.CmdKeyRetire, key.Member, trust.KeyRetireArgs{Kid: key.Kid})
		return g.signedBy(s, c, 1)
	case 7:
		g.nodes++
		c = n.Command(trust.CmdNodeRegister, issuer, trust.NodeRegisterArgs{Node: trusttest.NodeSpec(issuer, 1+g.nodes%4, trust.RoleVoter)})
		return g.signedBy(s, c, 1)
	case 8:
		nodes := s.Nodes()
		if len(nodes) == 0 {
			return g.garbage()
		}
		c = n.Command(trust.CmdNodeSetRole, issuer, trust.NodeSetRoleArgs{Node: nodes[g.rng.IntN(len(nodes))].ID, Role: []string{trust.RoleVoter, trust.RoleNonvoter}[g.rng.IntN(2)]})
	case 9:
		g.version++
		c = n.Command(trust.CmdSchemaPublish, issuer, trust.SchemaPublishArgs{Version: fmt.Sprintf("1.%d.0", g.version/2), SHA256: sha256hex([]byte{byte(g.version)})})
		c.Propose = g.rng.IntN(2) == 0
	case 10:
		if len(g.past) == 0 {
			return g.garbage()
		}
		return g.past[g.rng.IntN(len(g.past))] // replay
	case 11:
		data := g.signedBy(s, n.Command(trust.CmdMemberSuspend, issuer, trust.SuspendArgs{Member: target, Reason: "r"}), k)
		data = bytes.Clone(data)
		data[len(data)-3] ^= 0x01 // tamper with the last signature
		return data
	case 12:
		c = n.Command(trust.CmdMemberSuspend, issuer, trust.SuspendArgs{Member: target, Reason: "r"})
		c.IssuedAt -= secs(g.rng.IntN(2 * 86400)) // maybe too old
	default:
		return g.garbage()
	}
	return g.signedBy(s, c, k)
}

func secs(i int) trust.Timestamp { return trust.Timestamp(i) }

func (g *gen) garbage() []byte {
	b := make([]byte, g.rng.IntN(64))
	for i := range b {
		b[i] = "abcXYZ019-_.\n"[g.rng.IntN(13)]
	}
	return b
}

// TestReplayProperty applies random command sequences to independent
// states, to a state restored from a snapshot midway, and to the offline
// bundle replay: all reach the same state hash, chain head and snapshot
// bytes (REGISTRY.md §5, §8, §11, §12).
func TestReplayProperty(t *testing.T) {
	seeds, steps := 10, 60
	if testing.Short() {
		seeds = 3
	}
	outcomes := map[trust.Outcome]int{}
	reasons := map[trust.Reason]int{}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			n := trusttest.New(t, "TJ", "TR", "KZ", "UZ")
			g := newGen(t, n, uint64(seed))
			s := n.State()
			var entries []trust.Entry
			var mid []byte
			idx := uint64(0)
			for i := range steps {
				data := g.next(s)
				g.past = append(g.past, data)
				stamp := n.Now
				switch g.rng.IntN(6) {
				case 0:
					stamp -= secs(g.rng.IntN(600)) // a leader behind
				case 1:
					stamp += secs(g.rng.IntN(3 * 86400)) // a leader far ahead
				}
				idx += 1 + uint64(g.rng.IntN(3)) // raft indexes have gaps
				e := trust.Entry{Index: idx, Time: stamp, Data: data}
				next, res, err := trust.Apply(s, e)
				if err != nil {
					t.Fatal(err)
				}
				if res.Outcome == trust.OutcomeRejected && next.Hash() != s.Hash() {
					t.Fatalf("step %d: rejected %s changed the state", i, res.Reason)
				}
				if next.ConsensusTime() < s.ConsensusTime() {
					t.Fatalf("step %d: consensus time went back", i)
				}
				outcomes[res.Outcome]++
				reasons[res.Reason]++
				entries = append(entries, e)
				s = next
				if i == steps/2 {
					var err error
					if mid, err = trust.MarshalSnapshot(s); err != nil {
						t.Fatal(err)
					}
				}
				n.Advance(time.Duration(g.rng.IntN(4*3600)) * time.Second)
			}
			want, err := trust.MarshalSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, got *trust.State) {
				t.Helper()
				b, err := trust.MarshalSnapshot(got)
				if err != nil {
					t.Fatal(err)
				}
				if got.Hash() != s.Hash() || got.ChainHead() != s.ChainHead() || !bytes.Equal(b, want) {
					t.Fatalf("%s: state %s chain %s, want %s %s", name, got.Hash(), got.ChainHead(), s.Hash(), s.ChainHead())
				}
			}

			// An independent FSM from a freshly parsed genesis.
			g2, err := trust.ParseGenesis(n.Doc, n.Endorsements())
			if err != nil {
				t.Fatal(err)
			}
			b := trust.NewState(g2)
			for _, e := range entries {
				if b, _, err = trust.Apply(b, e); err != nil {
					t.Fatal(err)
				}
			}
			check("independent FSM", b)

			// A follower that installed the snapshot midway.
			c, err := trust.RestoreSnapshot(mid, g2)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries[steps/2+1:] {
				if c, _, err = trust.Apply(c, e); err != nil {
					t.Fatal(err)
				}
			}
			check("snapshot catch-up", c)

			// The offline verifier with the trust bundle.
			raw, err := trust.NewBundle(n.Genesis, entries, s.ChainHead()).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			bundle, err := trust.ParseBundle(raw)
			if err != nil {
				t.Fatal(err)
			}
			r, _, err := trust.Replay(bundle, n.Genesis.Hash())
			if err != nil {
				t.Fatal(err)
			}
			check("bundle replay", r)
		})
	}
	// The generator must reach both sides of the rules, or the property
	// says little.
	if !testing.Short() {
		t.Logf("outcomes %v", outcomes)
		t.Logf("reasons %v", reasons)
		for _, o := range []trust.Outcome{trust.OutcomeAccepted, trust.OutcomeRejected, trust.OutcomeProposed} {
			if outcomes[o] < 5 {
				t.Errorf("only %d %s entries", outcomes[o], o)
			}
		}
		if len(reasons) < 8 {
			t.Errorf("only %d distinct reasons: %v", len(reasons), reasons)
		}
	}
}
