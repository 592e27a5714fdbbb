package conformance

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// SuiteFormat is the "format" of suite.json.
const SuiteFormat = "crvsx-conformance-suite/1"

// Version is the suite's version: what a certificate names (its "suite"
// member) and what a report records.
const Version = "crvsx-conformance/1.0.0"

// The synthetic members of the suite's network (DESIGN.md §2). Messages
// carry their codes where the schemas require ISO 3166-1 countries, so
// they are real codes — of territories without a civil registry of their
// own, which no member of the network will ever be.
const (
	MemberA = "AQ" // Antarctica. Admitted: the baseline sender and receiver; voter
	MemberB = "BV" // Bouvet Island. Admitted: a second member, for cross-member refusals; voter
	MemberR = "HM" // Heard and McDonald Islands. Admitted: signing keys retired and revoked mid-run; non-voter
	MemberC = "GS" // South Georgia. Never admitted
)

// Reserved reports whether a member id is the suite's own (a candidate
// may not take it).
func Reserved(member string) bool {
	switch member {
	case MemberA, MemberB, MemberR, MemberC:
		return true
	}
	return false
}

// SuiteFile is DIR/suite.json: what `crvsx conform init` made. Paths are
// relative to DIR.
type SuiteFile struct {
	Format        string           `json:"format"`
	Network       string           `json:"network"`
	GenesisSHA256 string           `json:"genesisSha256"`
	Genesis       string           `json:"genesis"`      // genesis.json
	Endorsements  string           `json:"endorsements"` // genesis.endorsements.json
	Members       []MemberFile     `json:"members"`      // A, B, R, C
	Candidate     CandidateFile    `json:"candidate"`
	Policy        SuitePolicyNotes `json:"policy"`
}

// MemberFile is one synthetic member: its keys and, except for C, its
// registered node.
type MemberFile struct {
	ID            string   `json:"id"`
	NodeID        string   `json:"nodeId,omitempty"`
	GovernanceKey string   `json:"governanceKey"`         // private JWK
	SigningKeys   []string `json:"signingKeys"`           // private JWKs
	TLSCert       string   `json:"tlsCert"`               // PEM
	TLSKey        string   `json:"tlsKey"`                // PEM
	RaftAddress   string   `json:"raftAddress,omitempty"` // host:port the suite's replica listens on
	APIURL        string   `json:"apiUrl,omitempty"`      // https URL of the suite's peer endpoint
	Voter         bool     `json:"voter,omitempty"`
}

// CandidateFile is what the suite knows of the candidate.
type CandidateFile struct {
	Member     string `json:"member"`
	NodeID     string `json:"nodeId"`
	PeerURL    string `json:"peerUrl"` // its registered apiUrl
	TLSPin     string `json:"tlsSpkiSha256"`
	LocalURL   string `json:"localUrl"`   // its local API, for the sender plan
	TokensFile string `json:"tokensFile"` // the local API token init wrote
	Config     string `json:"config"`     // candidate/node.json (our node as the candidate)
}

// SuitePolicyNotes records the parts of the genesis policy the plans
// depend on.
type SuitePolicyNotes struct {
	StalenessBoundSeconds int64 `json:"stalenessBoundSeconds"`
	ClockSkewSeconds      int64 `json:"clockSkewSeconds"`
}

// Identity is one synthetic member as the suite holds it.
type Identity struct {
	Member     string
	NodeID     string
	Governance *jws.Signer
	Signing    []*jws.Signer // Signing[0] is the member's main key
	TLS        tls.Certificate
	TLSPin     string
	APIURL     string
	RaftAddr   string
	Voter      bool
}

// Suite is a loaded suite directory.
type Suite struct {
	Dir          string
	File         SuiteFile
	Genesis      []byte
	Endorsements []byte
	Members      map[string]*Identity // by member id: AQ, BV, HM, GS
	Candidate    CandidateFile
}

// A, B, R and C are the synthetic members.
func (s *Suite) A() *Identity { return s.Members[MemberA] }
func (s *Suite) B() *Identity { return s.Members[MemberB] }
func (s *Suite) R() *Identity { return s.Members[MemberR] }
func (s *Suite) C() *Identity { return s.Members[MemberC] }

// ErrSuite is the family of errors of a suite directory that cannot be used.
var ErrSuite = errors.New("conformance: suite directory")

// LoadSuite reads DIR/suite.json, the genesis and every key, and checks
// that they fit: the genesis has the pinned hash, and each member's keys
// are the ones the genesis registers (C's are in no genesis).
func LoadSuite(dir string) (*Suite, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "suite.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSuite, err)
	}
	var f SuiteFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: suite.json: %w", ErrSuite, err)
	}
	if f.Format != SuiteFormat {
		return nil, fmt.Errorf("%w: suite.json format %q, want %q", ErrSuite, f.Format, SuiteFormat)
	}
	s := &Suite{Dir: dir, File: f, Members: map[string]*Identity{}, Candidate: f.Candidate}
	path := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if s.Genesis, err = os.ReadFile(path(f.Genesis)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSuite, err)
	}
	if s.Endorsements, err = os.ReadFile(path(f.Endorsements)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSuite, err)
	}
	if got := trust.GenesisHash(s.Genesis); got != f.GenesisSHA256 {
		return nil, fmt.Errorf("%w: genesis.json hashes to %s, suite.json pins %s", ErrSuite, got, f.GenesisSHA256)
	}
	for _, m := range f.Members {
		id, err := loadIdentity(m, path)
		if err != nil {
			return nil, fmt.Errorf("%w: member %s: %w", ErrSuite, m.ID, err)
		}
		s.Members[m.ID] = id
	}
	for _, want := range []string{MemberA, MemberB, MemberR, MemberC} {
		if s.Members[want] == nil {
			return nil, fmt.Errorf("%w: member %s missing", ErrSuite, want)
		}
	}
	if !protocol.IsMemberID(f.Candidate.Member) || Reserved(f.Candidate.Member) {
		return nil, fmt.Errorf("%w: candidate member %q", ErrSuite, f.Candidate.Member)
	}
	return s, nil
}

func loadIdentity(m MemberFile, path func(string) string) (*Identity, error) {
	id := &Identity{Member: m.ID, NodeID: m.NodeID, APIURL: m.APIURL, RaftAddr: m.RaftAddress, Voter: m.Voter}
	var err error
	if id.Governance, err = loadSigner(path(m.GovernanceKey), m.ID); err != nil {
		return nil, err
	}
	for _, k := range m.SigningKeys {
		sg, err := loadSigner(path(k), m.ID)
		if err != nil {
			return nil, err
		}
		id.Signing = append(id.Signing, sg)
	}
	if len(id.Signing) == 0 {
		return nil, errors.New("no signing key")
	}
	certPEM, err := os.ReadFile(path(m.TLSCert))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(path(m.TLSKey))
	if err != nil {
		return nil, err
	}
	if id.TLS, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	id.TLSPin = protocol.SPKIPin(id.TLS.Leaf.RawSubjectPublicKeyInfo)
	return id, nil
}

func loadSigner(p, member string) (*jws.Signer, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	s, err := jws.ParsePrivateJWK(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if s.Member() != member {
		return nil, fmt.Errorf("%s: key of member %s", p, s.Member())
	}
	return s, nil
}
