package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/ecrn/crvsx/protocol/jws"
)

// content is what trust decisions read; State.Hash is the SHA-256 of its
// canonical encoding (REGISTRY.md §2).
type content struct {
	Members      map[string]Member       `json:"members"`
	Keys         map[string]Key          `json:"keys"`
	Nodes        map[string]Node         `json:"nodes"`
	Certificates map[string]Certificate  `json:"certificates"`
	Schemas      map[string]SchemaBundle `json:"schemas"`
	Policy       Policy                  `json:"policy"`
	Proposals    map[string]Proposal     `json:"proposals"`
	// Requesters is omitted when empty (REGISTRY.md §2): a state without
	// requesters encodes and hashes exactly as before they existed. It may
	// be nil; write to it only through execution.putRequester.
	Requesters map[string]RequesterRecord `json:"requesters,omitempty"`
}

// clone copies the maps; the values are never modified in place (slices in
// them are replaced, not appended to), so sharing them is safe.
func (c *content) clone() *content {
	return &content{
		Members:      maps.Clone(c.Members),
		Keys:         maps.Clone(c.Keys),
		Nodes:        maps.Clone(c.Nodes),
		Certificates: maps.Clone(c.Certificates),
		Schemas:      maps.Clone(c.Schemas),
		Policy:       c.Policy,
		Proposals:    maps.Clone(c.Proposals),
		Requesters:   maps.Clone(c.Requesters),
	}
}

func (c *content) hash() ([32]byte, error) {
	b, err := canonicalJSON(c)
	if err != nil {
		return [32]byte{}, fmt.Errorf("registry: encode state: %w", err)
	}
	return sha256.Sum256(b), nil
}

// activeMembers counts members whose status is active.
func (c *content) activeMembers() int {
	n := 0
	for _, m := range c.Members {
		if m.Status == StatusActive {
			n++
		}
	}
	return n
}

// RejectionRecord is the journal's record of a rejected entry (REGISTRY.md
// §8). It holds only stable fields; the human detail is never stored.
type RejectionRecord struct {
	Index       uint64    `json:"index"`
	Time        Timestamp `json:"time"`
	EntrySHA256 string    `json:"entrySha256"`
	ID          string    `json:"id,omitempty"`
	Type        string    `json:"type,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Reason      Reason    `json:"reason"`
}

// State is the registry's replicated state: content plus journal. A State
// is immutable; Apply returns a new one and never changes its input, so a
// State may be shared between goroutines freely. Slices and maps inside
// values returned by accessors must not be modified.
type State struct {
	genesisHash   string
	appliedIndex  uint64
	consensusTime Timestamp
	chainHead     [32]byte
	c             *content
	contentHash   [32]byte
	usedIDs       map[string]uint64
	rejections    []RejectionRecord
}

// GenesisHash returns the pinned genesis SHA-256 (hex).
func (s *State) GenesisHash() string { return s.genesisHash }

// AppliedIndex returns the index of the last applied entry (0 at genesis).
func (s *State) AppliedIndex() uint64 { return s.appliedIndex }

// ConsensusTime returns the consensus time of the last applied entry.
func (s *State) ConsensusTime() Timestamp { return s.consensusTime }

// ChainHead returns the head of the hash chain (hex), REGISTRY.md §8.
func (s *State) ChainHead() string { return hex.EncodeToString(s.chainHead[:]) }

// Hash returns the SHA-256 (hex) of the canonical encoding of the content:
// members, keys, nodes, certificates, schemas, policy, open proposals and
// requesters (omitted when there are none, REGISTRY.md §2). A rejected
// command never changes it.
func (s *State) Hash() string { return hex.EncodeToString(s.contentHash[:]) }

// Policy returns the policy in force.
func (s *State) Policy() Policy { return s.c.Policy }

// Member returns a member by id.
func (s *State) Member(id string) (Member, bool) { m, ok := s.c.Members[id]; return m, ok }

// Key returns a key by kid.
func (s *State) Key(kid string) (Key, bool) { k, ok := s.c.Keys[kid]; return k, ok }

// Node returns a node by id.
func (s *State) Node(id string) (Node, bool) { n, ok := s.c.Nodes[id]; return n, ok }

// Certificate returns a certificate by id.
func (s *State) Certificate(id string) (Certificate, bool) {
	c, ok := s.c.Certificates[id]
	return c, ok
}

// Schema returns a schema bundle by version.
func (s *State) Schema(version string) (SchemaBundle, bool) {
	b, ok := s.c.Schemas[version]
	return b, ok
}

// Proposal returns an open proposal by id.
func (s *State) Proposal(id string) (Proposal, bool) { p, ok := s.c.Proposals[id]; return p, ok }

// Members returns every member, sorted by id.
func (s *State) Members() []Member { return sortedValues(s.c.Members) }

// Keys returns every key, sorted by kid.
func (s *State) Keys() []Key { return sortedValues(s.c.Keys) }

// Nodes returns every node, sorted by id.
func (s *State) Nodes() []Node { return sortedValues(s.c.Nodes) }

// Certificates returns every certificate, sorted by id.
func (s *State) Certificates() []Certificate { return sortedValues(s.c.Certificates) }

// Schemas returns every schema bundle, sorted by version string.
func (s *State) Schemas() []SchemaBundle { return sortedValues(s.c.Schemas) }

// Proposals returns the open proposals, sorted by id.
func (s *State) Proposals() []Proposal { return sortedValues(s.c.Proposals) }

// Requester returns a requester by id (REGISTRY.md §2.1).
func (s *State) Requester(id string) (RequesterRecord, bool) {
	r, ok := s.c.Requesters[id]
	return r, ok
}

// Requesters returns every requester, sorted by id.
func (s *State) Requesters() []RequesterRecord { return sortedValues(s.c.Requesters) }

// UsedID reports whether a command id was burnt, and by which entry.
func (s *State) UsedID(id string) (index uint64, used bool) {
	index, used = s.usedIDs[id]
	return index, used
}

// Rejections returns the most recent rejection records, oldest first.
func (s *State) Rejections() []RejectionRecord { return slices.Clone(s.rejections) }

// RequiredApprovals returns the approvals a network command type needs now.
func (s *State) RequiredApprovals(typ string) (int, bool) {
	th, ok := s.c.Policy.Threshold(typ)
	if !ok {
		return 0, false
	}
	return th.Required(s.c.activeMembers()), true
}

// keyLookup is the jws.KeyLookup of command verification: every key of
// the state, of either role and any status, plus the keys the command
// introduces. Roles and validity are checked after the signature.
type keyLookup struct {
	keys  map[string]Key
	intro map[string]jws.Key
}

func (l keyLookup) LookupKey(kid string) (jws.Key, bool) {
	if k, ok := l.keys[kid]; ok {
		return k.pub, true
	}
	k, ok := l.intro[kid]
	return k, ok
}

func sortedValues[V any](m map[string]V) []V {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]V, 0, len(m))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
