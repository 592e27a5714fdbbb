// Package trusttest builds test networks for the registry core: a genesis
// with N founding members (each with a governance key and a signing key,
// endorsed by every key), a leader clock, an index counter and helpers that
// sign commands. It is for tests of protocol/trust, of the Raft shell (node/registry) and
// its cluster tests; it is deterministic except for key generation.
//
// A Network is not safe for concurrent use.
//
// Imports: protocol/jws and protocol/trust.
package trusttest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// GenesisTime is the genesisTime of every test network.
var GenesisTime = trust.TimestampOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

// KeyLifetime is the lifetime of generated keys.
const KeyLifetime = 5 * 365 * 24 * time.Hour

// Member is a member of a test network with its private keys.
type Member struct {
	ID  string
	Gov *jws.Signer // governance key
	Sig *jws.Signer // signing key
}

// Network is a test network.
type Network struct {
	tb      testing.TB
	Doc     []byte
	Genesis *trust.Genesis
	Members []*Member
	byID    map[string]*Member
	// Now is the leader's clock: the stamp of the next entry and the
	// issuedAt of the next command.
	Now   trust.Timestamp
	index uint64
	ids   uint64
	seed  string // "": random ES256 keys; else deterministic Ed25519 keys
	keys  int
}

// DefaultPolicy is the policy of test networks: ES256 and EdDSA, a
// two-thirds threshold (minimum 2) for every network command, 5 minutes
// of skew, 1 day of command age, 7 days of proposal lifetime.
func DefaultPolicy() trust.Policy {
	p := trust.DefaultPolicy()
	p.ProposalLifetimeSeconds = 7 * 86400
	p.StalenessBoundSeconds = 600
	return p
}

// New builds a network of the given members (ISO codes) with
// DefaultPolicy. The first three members' nodes are voters.
func New(tb testing.TB, members ...string) *Network {
	tb.Helper()
	return NewWithPolicy(tb, DefaultPolicy(), members...)
}

// NewWithPolicy is New with a policy.
func NewWithPolicy(tb testing.TB, pol trust.Policy, members ...string) *Network {
	tb.Helper()
	return build(tb, pol, "", members)
}

// NewDeterministic is New with Ed25519 keys derived from seed: the same
// seed and calls give the same keys, signatures, genesis bytes and entries
// — for golden vectors that pin the registry's formats.
func NewDeterministic(tb testing.TB, seed string, members ...string) *Network {
	tb.Helper()
	return build(tb, DefaultPolicy(), seed, members)
}

func build(tb testing.TB, pol trust.Policy, seed string, members []string) *Network {
	tb.Helper()
	n := &Network{tb: tb, byID: map[string]*Member{}, Now: GenesisTime + 60, seed: seed}
	doc := trust.GenesisDocument{Format: trust.GenesisFormat, Network: "test", GenesisTime: GenesisTime, Policy: pol,
		Schemas: []trust.SchemaSpec{{Version: "1.0.0", SHA256: hexSum("schemas-1.0.0")}}}
	for i, id := range members {
		m := &Member{ID: id, Gov: n.mustKey(id, jws.AlgES256), Sig: n.mustKey(id, jws.AlgES256)}
		n.Members = append(n.Members, m)
		n.byID[id] = m
		doc.Members = append(doc.Members, trust.GenesisMember{ID: id, Name: "Civil registry of " + id,
			Keys: []trust.KeySpec{n.spec(m.Gov, trust.RoleGovernance, GenesisTime-86400), n.spec(m.Sig, trust.RoleSigning, GenesisTime-86400)}})
		role := trust.RoleNonvoter
		if i < 3 {
			role = trust.RoleVoter
		}
		ns := NodeSpec(id, 1, role)
		doc.Nodes = append(doc.Nodes, trust.GenesisNode{ID: ns.ID, Member: id, RaftAddress: ns.RaftAddress, APIURL: ns.APIURL, TLSSPKISHA256: ns.TLSSPKISHA256, Role: role})
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		tb.Fatalf("registrytest: genesis: %v", err)
	}
	n.Doc = raw
	var ends [][]byte
	for _, m := range n.Members {
		for _, s := range []*jws.Signer{m.Gov, m.Sig} {
			e, err := trust.Endorse(raw, s, n.NextID(), GenesisTime)
			if err != nil {
				tb.Fatalf("registrytest: endorse: %v", err)
			}
			ends = append(ends, e)
		}
	}
	g, err := trust.ParseGenesis(raw, ends)
	if err != nil {
		tb.Fatalf("registrytest: genesis: %v", err)
	}
	n.Genesis = g
	return n
}

// Endorsements returns the endorsements of the genesis.
func (n *Network) Endorsements() [][]byte { return n.Genesis.Endorsements() }

// State returns the initial state.
func (n *Network) State() *trust.State { return trust.NewState(n.Genesis) }

// Member returns a member by id.
func (n *Network) Member(id string) *Member {
	m, ok := n.byID[id]
	if !ok {
		n.tb.Fatalf("registrytest: no member %s", id)
	}
	return m
}

// AddMember creates keys for a candidate member (not in the genesis).
func (n *Network) AddMember(id string) *Member {
	m := &Member{ID: id, Gov: n.mustKey(id, jws.AlgES256), Sig: n.mustKey(id, jws.AlgEdDSA)}
	n.byID[id] = m
	return m
}

func (n *Network) mustKey(member, alg string) *jws.Signer {
	n.tb.Helper()
	if n.seed != "" {
		n.keys++
		d := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", n.seed, member, n.keys)))
		s, err := jws.NewSigner(member, ed25519.NewKeyFromSeed(d[:]))
		if err != nil {
			n.tb.Fatalf("registrytest: %v", err)
		}
		return s
	}
	s, err := jws.GenerateKey(member, alg)
	if err != nil {
		n.tb.Fatalf("registrytest: %v", err)
	}
	return s
}

// NewKey generates a key for member.
func (n *Network) NewKey(member, alg string) *jws.Signer { return n.mustKey(member, alg) }

// Spec returns the KeySpec of s with role, valid from notBefore for
// KeyLifetime.
func (n *Network) Spec(s *jws.Signer, role string, notBefore trust.Timestamp) trust.KeySpec {
	return n.spec(s, role, notBefore)
}

func (n *Network) spec(s *jws.Signer, role string, notBefore trust.Timestamp) trust.KeySpec {
	n.tb.Helper()
	jwk, err := jws.MarshalPublicJWK(s.Public())
	if err != nil {
		n.tb.Fatalf("registrytest: %v", err)
	}
	return trust.KeySpec{Role: role, JWK: jwk, NotBefore: notBefore, NotAfter: notBefore + trust.Timestamp(KeyLifetime/time.Second)}
}

// NodeSpec returns a valid node spec: id "<member>-N<i>", a loopback-style
// raft address, an https API URL and a pin derived from the id.
func NodeSpec(member string, i int, role string) trust.NodeSpec {
	id := fmt.Sprintf("%s-N%d", member, i)
	return trust.NodeSpec{ID: id, RaftAddress: fmt.Sprintf("%s.raft.test:%d", id, 7000+i), APIURL: "https://" + id + ".test",
		TLSSPKISHA256: hexSum("tls:" + id), DesiredRole: role}
}

func hexSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// NextID returns a fresh command id: a UUID-shaped counter, deterministic
// within one Network.
func (n *Network) NextID() string {
	n.ids++
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", n.ids)
}

// Command builds a command of issuer with a fresh id, issued at n.Now.
func (n *Network) Command(typ, issuer string, args any) trust.Command {
	n.tb.Helper()
	c, err := trust.NewCommand(n.Genesis.Hash(), n.NextID(), typ, n.Now, issuer, args)
	if err != nil {
		n.tb.Fatalf("registrytest: %v", err)
	}
	return c
}

// Sign signs c with the signers into entry data.
func (n *Network) Sign(c trust.Command, signers ...*jws.Signer) []byte {
	n.tb.Helper()
	data, err := c.Sign(signers...)
	if err != nil {
		n.tb.Fatalf("registrytest: sign: %v", err)
	}
	return data
}

// Gov returns the governance signers of the members, in order.
func (n *Network) Gov(members ...string) []*jws.Signer {
	out := make([]*jws.Signer, 0, len(members))
	for _, id := range members {
		out = append(out, n.Member(id).Gov)
	}
	return out
}

// Entry wraps data as the next log entry, stamped n.Now.
func (n *Network) Entry(data []byte) trust.Entry {
	n.index++
	return trust.Entry{Index: n.index, Time: n.Now, Data: data}
}

// Advance moves the leader clock.
func (n *Network) Advance(d time.Duration) { n.Now += trust.Timestamp(d / time.Second) }

// Apply applies data as the next entry and returns the new state and result.
// It fails the test on ErrIndexOrder only; a rejection is a result.
func (n *Network) Apply(s *trust.State, data []byte) (*trust.State, trust.Result) {
	n.tb.Helper()
	next, res, err := trust.Apply(s, n.Entry(data))
	if err != nil {
		n.tb.Fatalf("registrytest: apply: %v", err)
	}
	return next, res
}

// MustApply applies data and fails the test unless the outcome is want.
func (n *Network) MustApply(s *trust.State, data []byte, want trust.Outcome) *trust.State {
	n.tb.Helper()
	next, res := n.Apply(s, data)
	if res.Outcome != want {
		n.tb.Fatalf("registrytest: %s %s: outcome %s (%s %s), want %s", res.Type, res.CommandID, res.Outcome, res.Reason, res.Detail, want)
	}
	return next
}

// TLSKey generates a node's TLS key (ECDSA P-256) and returns it with the
// DER SubjectPublicKeyInfo whose SHA-256 is the node's pin.
func TLSKey(tb testing.TB) (*ecdsa.PrivateKey, []byte) {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return k, der
}

// RequesterKey generates a signing key of a requester (SPEC §11.1): its
// JWK's member is the requester id, its kid "<id>:<thumbprint>".
func (n *Network) RequesterKey(id string) *jws.Signer { return n.mustKey(id, jws.AlgES256) }

// RequesterKeySpec returns the spec of a requester key valid from
// notBefore for KeyLifetime.
func (n *Network) RequesterKeySpec(s *jws.Signer, notBefore trust.Timestamp) trust.RequesterKeySpec {
	ks := n.spec(s, trust.RoleSigning, notBefore)
	return trust.RequesterKeySpec{JWK: ks.JWK, NotBefore: ks.NotBefore, NotAfter: ks.NotAfter}
}

// RequesterPin is the test pin of a requester's client TLS key.
func RequesterPin(id string) string { return hexSum("tls:requester:" + id) }

// RequesterSpec returns a valid spec of requester id with the given keys
// (valid from an hour before n.Now): a humanitarian agency that may ask
// every member of the network whether a person is registered and their
// vital status, on consent or vital interest, 60 a minute, bursts of 10.
func (n *Network) RequesterSpec(id string, keys ...*jws.Signer) trust.RequesterSpec {
	rs := trust.RequesterSpec{ID: id, Name: "Requester " + id, OrganizationType: "humanitarian-un",
		TLSSPKISHA256: RequesterPin(id), Questions: []string{"vital-status", "is-registered"},
		Bases:    []string{"vital-interest", "data-subject-consent"},
		Purposes: []string{"humanitarian-verification", "identification-assistance", "family-reunification"}, Rate: trust.Rate{PerMinute: 60, Burst: 10}}
	for _, m := range n.Members {
		rs.Countries = append(rs.Countries, m.ID)
	}
	for _, k := range keys {
		rs.Keys = append(rs.Keys, n.RequesterKeySpec(k, n.Now-3600))
	}
	return rs
}
