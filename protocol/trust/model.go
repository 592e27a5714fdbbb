package trust

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// Member status (REGISTRY.md §2).
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusWithdrawn = "withdrawn"
)

// Key roles and statuses.
const (
	RoleGovernance = "governance" // signs registry commands only
	RoleSigning    = "signing"    // signs messages only

	KeyActive  = "active"
	KeyRetired = "retired"
	KeyRevoked = "revoked"
)

// Certificate statuses.
const (
	CertActive  = "active"
	CertRevoked = "revoked"
)

// Node roles.
const (
	RoleVoter    = "voter"
	RoleNonvoter = "nonvoter"
)

// How a key or node was added, for the compromise cascade (REGISTRY.md §7).
const (
	ViaGenesis = "genesis"
	ViaSelf    = "self"
	ViaNetwork = "network"
)

// StatusChange is one step of a member's status history.
type StatusChange struct {
	Status string    `json:"status"`
	Since  Timestamp `json:"since"`
}

// Member is a member of the network: a country's civil registry.
type Member struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Status     string         `json:"status"`
	History    []StatusChange `json:"history"`
	AdmittedAt Timestamp      `json:"admittedAt"`
}

// StatusAt returns the member's status at t ("" before admission).
func (m Member) StatusAt(t Timestamp) string {
	st := ""
	for _, h := range m.History {
		if h.Since > t {
			break
		}
		st = h.Status
	}
	return st
}

// Key is a public key of a member as the registry holds it.
type Key struct {
	Kid              string          `json:"kid"`
	Member           string          `json:"member"`
	Role             string          `json:"role"`
	Alg              string          `json:"alg"`
	JWK              json.RawMessage `json:"jwk"`
	NotBefore        Timestamp       `json:"notBefore"`
	NotAfter         Timestamp       `json:"notAfter"`
	Status           string          `json:"status"`
	RetiredAt        Timestamp       `json:"retiredAt,omitempty"`
	CompromisedSince Timestamp       `json:"compromisedSince,omitempty"`
	RevokedAt        Timestamp       `json:"revokedAt,omitempty"`
	AddedAt          Timestamp       `json:"addedAt"`
	AddedVia         string          `json:"addedVia"`
	AddedBy          []string        `json:"addedBy,omitempty"`

	pub jws.Key // parsed JWK; not encoded
}

// Public returns the key as protocol/jws uses it.
func (k Key) Public() jws.Key { return k.pub }

// validAt is the rule of REGISTRY.md §10 for the key alone (not its member):
// notBefore ≤ t < notAfter, not retired at or before t, and before the
// compromise if revoked.
// ValidAt is REGISTRY.md §10 for the key alone (its member's status is
// View.ValidAt's other half): nil when the key could sign at t —
// notBefore ≤ t < notAfter, not retired at or before t, before the
// compromise if revoked as compromised — or why not.
func (k Key) ValidAt(t Timestamp) error { return k.validAt(t) }

func (k Key) validAt(t Timestamp) error {
	switch {
	case t < k.NotBefore:
		return fmt.Errorf("key %s is not valid before %s", k.Kid, k.NotBefore)
	case t >= k.NotAfter:
		return fmt.Errorf("key %s expired at %s", k.Kid, k.NotAfter)
	case k.RetiredAt != 0 && t >= k.RetiredAt:
		return fmt.Errorf("key %s was retired at %s", k.Kid, k.RetiredAt)
	case k.Status == KeyRevoked && t >= k.CompromisedSince:
		return fmt.Errorf("key %s is revoked as compromised since %s", k.Kid, k.CompromisedSince)
	}
	return nil
}

// Node is a node of a member: a Raft peer and an API endpoint.
type Node struct {
	ID            string    `json:"id"`
	Member        string    `json:"member"`
	RaftAddress   string    `json:"raftAddress"`
	APIURL        string    `json:"apiUrl"`
	TLSSPKISHA256 string    `json:"tlsSpkiSha256"`
	DesiredRole   string    `json:"desiredRole"`
	Role          string    `json:"role"`
	RegisteredAt  Timestamp `json:"registeredAt"`
	AddedVia      string    `json:"addedVia"`
	AddedBy       []string  `json:"addedBy,omitempty"`
}

// Certificate is a conformance certificate.
type Certificate struct {
	ID           string    `json:"id"`
	Subject      string    `json:"subject"`
	Node         string    `json:"node,omitempty"`
	Suite        string    `json:"suite"`
	ReportSHA256 string    `json:"reportSha256"`
	NotBefore    Timestamp `json:"notBefore"`
	NotAfter     Timestamp `json:"notAfter"`
	Status       string    `json:"status"`
	IssuedAt     Timestamp `json:"issuedAt"`
	RevokedAt    Timestamp `json:"revokedAt,omitempty"`
	Reason       string    `json:"reason,omitempty"`
}

// SchemaBundle is a published schema bundle version.
type SchemaBundle struct {
	Version     string    `json:"version"`
	SHA256      string    `json:"sha256"`
	PublishedAt Timestamp `json:"publishedAt"`
}

// Threshold is the approvals a network command needs:
// max(Minimum, ⌈active·Numerator/Denominator⌉).
type Threshold struct {
	Numerator   int64 `json:"numerator"`
	Denominator int64 `json:"denominator"`
	Minimum     int64 `json:"minimum"`
}

// Required returns the approvals needed when active members are active.
func (th Threshold) Required(active int) int {
	n := (int64(active)*th.Numerator + th.Denominator - 1) / th.Denominator
	return int(max(n, th.Minimum))
}

// Policy is the network's policy (REGISTRY.md §2).
type Policy struct {
	Algorithms                   []string             `json:"algorithms"`
	Thresholds                   map[string]Threshold `json:"thresholds"`
	ClockSkewSeconds             int64                `json:"clockSkewSeconds"`
	MaxCommandAgeSeconds         int64                `json:"maxCommandAgeSeconds"`
	ProposalLifetimeSeconds      int64                `json:"proposalLifetimeSeconds"`
	StalenessBoundSeconds        int64                `json:"stalenessBoundSeconds"`
	MaxKeyLifetimeSeconds        int64                `json:"maxKeyLifetimeSeconds,omitempty"`
	AdmissionRequiresCertificate bool                 `json:"admissionRequiresCertificate,omitempty"`
}

// Threshold returns the threshold of a network command type: its own, or
// for a requester type the policy leaves out, that of member.admit
// (member.suspend for requester.suspend), REGISTRY.md §2.
func (p Policy) Threshold(typ string) (Threshold, bool) {
	if th, ok := p.Thresholds[typ]; ok {
		return th, true
	}
	if base, ok := optionalThresholds[typ]; ok {
		th, ok := p.Thresholds[base]
		return th, ok
	}
	return Threshold{}, false
}

// Validate checks the policy's own rules.
func (p Policy) Validate() error {
	if len(p.Algorithms) == 0 || !slices.Contains(p.Algorithms, jws.AlgES256) {
		return fmt.Errorf("policy: algorithms must include %s", jws.AlgES256)
	}
	seen := map[string]bool{}
	for _, a := range p.Algorithms {
		if a != jws.AlgES256 && a != jws.AlgEdDSA {
			return fmt.Errorf("policy: algorithm %q is not ES256 or EdDSA", a)
		}
		if seen[a] {
			return fmt.Errorf("policy: algorithm %q listed twice", a)
		}
		seen[a] = true
	}
	for typ, th := range p.Thresholds {
		spec, ok := commandSpecs[typ]
		if !ok || spec.class == classSelf {
			return fmt.Errorf("policy: threshold for %q, which is not a network command type", typ)
		}
		if th.Denominator < 1 || th.Numerator < 0 || th.Numerator > th.Denominator || th.Minimum < 1 || th.Minimum > 1000 || th.Denominator > 1000 {
			return fmt.Errorf("policy: threshold for %q: need 0 ≤ numerator ≤ denominator ≤ 1000, 1 ≤ minimum ≤ 1000", typ)
		}
	}
	for typ, spec := range commandSpecs {
		if _, optional := optionalThresholds[typ]; spec.class != classSelf && !optional {
			if _, ok := p.Thresholds[typ]; !ok {
				return fmt.Errorf("policy: no threshold for network command type %q", typ)
			}
		}
	}
	for _, r := range []struct {
		name     string
		v, lo, h int64
	}{
		{"clockSkewSeconds", p.ClockSkewSeconds, 1, 3600},
		{"maxCommandAgeSeconds", p.MaxCommandAgeSeconds, 60, 30 * 86400},
		{"proposalLifetimeSeconds", p.ProposalLifetimeSeconds, 60, 90 * 86400},
		{"stalenessBoundSeconds", p.StalenessBoundSeconds, 10, 365 * 86400},
		{"maxKeyLifetimeSeconds", p.MaxKeyLifetimeSeconds, 0, 100 * 366 * 86400},
	} {
		if r.v < r.lo || r.v > r.h {
			return fmt.Errorf("policy: %s = %d, must be within %d…%d", r.name, r.v, r.lo, r.h)
		}
	}
	return nil
}

// KeySpec introduces a key (genesis, member.admit, key.add, key.rotate).
// Kid, member and alg come from the JWK, whose kid is derived from the key
// (SPEC §2).
type KeySpec struct {
	Role      string          `json:"role"`
	JWK       json.RawMessage `json:"jwk"`
	NotBefore Timestamp       `json:"notBefore"`
	NotAfter  Timestamp       `json:"notAfter"`
}

// parse checks the spec on its own and returns the parsed key.
func (ks KeySpec) parse() (jws.Key, error) {
	if ks.Role != RoleGovernance && ks.Role != RoleSigning {
		return jws.Key{}, fmt.Errorf("key role %q: must be %q or %q", ks.Role, RoleGovernance, RoleSigning)
	}
	if len(ks.JWK) == 0 {
		return jws.Key{}, fmt.Errorf("key without jwk")
	}
	k, err := jws.ParsePublicJWK(ks.JWK)
	if err != nil {
		return jws.Key{}, err
	}
	if ks.NotBefore == 0 || ks.NotAfter == 0 || ks.NotBefore >= ks.NotAfter {
		return jws.Key{}, fmt.Errorf("key %s: notBefore must be before notAfter", k.Kid)
	}
	return k, nil
}

// canonicalJWK is the JWK the registry stores for a key: exactly the members
// of SPEC §2, in JCS form, built from the key material (not copied from the
// input, so that two spellings of one key are stored identically).
func canonicalJWK(k jws.Key) (json.RawMessage, error) {
	m := map[string]string{"kid": k.Kid, "alg": k.Alg, "use": jws.UseSig, "member": k.Member}
	enc := base64.RawURLEncoding
	switch p := k.Public.(type) {
	case *ecdsa.PublicKey:
		b, err := p.Bytes()
		if err != nil {
			return nil, fmt.Errorf("key %s: encode point: %w", k.Kid, err)
		}
		if len(b) != 65 {
			return nil, fmt.Errorf("key %s: not an uncompressed P-256 point", k.Kid)
		}
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", enc.EncodeToString(b[1:33]), enc.EncodeToString(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", enc.EncodeToString(p)
	default:
		return nil, fmt.Errorf("key %s: unexpected key type %T", k.Kid, k.Public)
	}
	return canonicalJSON(m)
}

// NodeSpec registers a node (genesis, node.register).
type NodeSpec struct {
	ID            string `json:"id"`
	RaftAddress   string `json:"raftAddress"`
	APIURL        string `json:"apiUrl"`
	TLSSPKISHA256 string `json:"tlsSpkiSha256"`
	DesiredRole   string `json:"desiredRole"`
}

var (
	certIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	semverRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$`)
)

// validText: a human-readable name or reason: 1…200 bytes, no controls.
func validText(s string, optional bool) bool {
	if s == "" {
		return optional
	}
	if len(s) > 200 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

func (ns NodeSpec) validate(member string) error {
	if !protocol.IsMemberNodeID(ns.ID) || ns.ID[:2] != member {
		return fmt.Errorf("node id %q: must match SPEC §2 and start with %q", ns.ID, member+"-")
	}
	host, port, err := net.SplitHostPort(ns.RaftAddress)
	if err != nil || host == "" || len(ns.RaftAddress) > 260 {
		return fmt.Errorf("node %s: raftAddress %q is not host:port", ns.ID, ns.RaftAddress)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return fmt.Errorf("node %s: raftAddress %q has no valid port", ns.ID, ns.RaftAddress)
	}
	u, err := url.Parse(ns.APIURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(ns.APIURL) > 512 {
		return fmt.Errorf("node %s: apiUrl %q must be an https URL without user, query or fragment", ns.ID, ns.APIURL)
	}
	if !protocol.IsSHA256Hex(ns.TLSSPKISHA256) {
		return fmt.Errorf("node %s: tlsSpkiSha256 must be 64 lower-case hex digits", ns.ID)
	}
	if ns.DesiredRole != RoleVoter && ns.DesiredRole != RoleNonvoter {
		return fmt.Errorf("node %s: role %q must be %q or %q", ns.ID, ns.DesiredRole, RoleVoter, RoleNonvoter)
	}
	return nil
}

// Approval is one member's approval of a proposal.
type Approval struct {
	Member string    `json:"member"`
	Kid    string    `json:"kid"`
	At     Timestamp `json:"at"`
}

// Proposal is an open network command waiting for approvals (REGISTRY.md §6).
type Proposal struct {
	ID            string     `json:"id"`
	Type          string     `json:"type"`
	Issuer        string     `json:"issuer"`
	Payload       string     `json:"payload"` // base64url of the exact payload bytes
	PayloadSHA256 string     `json:"payloadSha256"`
	CreatedAt     Timestamp  `json:"createdAt"`
	ExpiresAt     Timestamp  `json:"expiresAt"`
	Approvals     []Approval `json:"approvals"`
}
