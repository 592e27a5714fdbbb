package trust

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// GenesisFormat is the value of a genesis document's "format" member.
const GenesisFormat = "crvsx-genesis/1"

const maxGenesisBytes = 1 << 20

// GenesisDocument is the genesis document (REGISTRY.md §3). Its hash is the
// SHA-256 of the file's exact bytes, never of a re-encoding.
type GenesisDocument struct {
	Format      string          `json:"format"`
	Network     string          `json:"network"`
	GenesisTime Timestamp       `json:"genesisTime"`
	Policy      Policy          `json:"policy"`
	Members     []GenesisMember `json:"members"`
	Nodes       []GenesisNode   `json:"nodes"`
	Schemas     []SchemaSpec    `json:"schemas,omitempty"`
}

// GenesisMember is a founding member with its keys.
type GenesisMember struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Keys []KeySpec `json:"keys"`
}

// GenesisNode is a founding node; voters form the first Raft configuration.
type GenesisNode struct {
	ID            string `json:"id"`
	Member        string `json:"member"`
	RaftAddress   string `json:"raftAddress"`
	APIURL        string `json:"apiUrl"`
	TLSSPKISHA256 string `json:"tlsSpkiSha256"`
	Role          string `json:"role"`
}

// SchemaSpec is a schema bundle version in the genesis.
type SchemaSpec struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// Genesis is a validated genesis document with its endorsements. It is
// immutable and safe for concurrent use.
type Genesis struct {
	doc          []byte
	hash         string
	document     GenesisDocument
	endorsements [][]byte
	state        *State
}

// Hash returns the genesis hash: lower-case hex SHA-256 of the document's
// exact bytes.
func (g *Genesis) Hash() string { return g.hash }

// Document returns the decoded document.
func (g *Genesis) Document() GenesisDocument { return g.document }

// Bytes returns the document's exact bytes.
func (g *Genesis) Bytes() []byte { return slices.Clone(g.doc) }

// Endorsements returns the endorsement JWS.
func (g *Genesis) Endorsements() [][]byte {
	out := make([][]byte, len(g.endorsements))
	for i, e := range g.endorsements {
		out[i] = slices.Clone(e)
	}
	return out
}

// CheckPin returns ErrGenesisPin unless pin is the genesis hash.
func (g *Genesis) CheckPin(pin string) error {
	if pin != g.hash {
		return fmt.Errorf("%w: document %s, pin %q", ErrGenesisPin, g.hash, pin)
	}
	return nil
}

// NewState returns the initial state of g (REGISTRY.md §3).
func NewState(g *Genesis) *State { return g.state }

// GenesisHash returns the genesis hash of document bytes.
func GenesisHash(doc []byte) string { return sum(doc) }

// ParseGenesisDocument decodes and validates a document on its own, without
// endorsements: what `crvsx registry genesis` checks before collecting them.
func ParseGenesisDocument(doc []byte) (*GenesisDocument, error) {
	d, _, err := parseDocument(doc)
	return d, err
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidGenesis}, args...)...)
}

// parseDocument validates the document and builds the initial content.
func parseDocument(doc []byte) (*GenesisDocument, *content, error) {
	if len(doc) > maxGenesisBytes {
		return nil, nil, invalid("document of %d bytes exceeds %d", len(doc), maxGenesisBytes)
	}
	var d GenesisDocument
	if err := DecodeStrict(doc, &d); err != nil {
		return nil, nil, invalid("%w", err)
	}
	if d.Format != GenesisFormat {
		return nil, nil, invalid("format %q, want %q", d.Format, GenesisFormat)
	}
	if !validText(d.Network, false) {
		return nil, nil, invalid("network name is required")
	}
	if d.GenesisTime == 0 {
		return nil, nil, invalid("genesisTime is required")
	}
	if err := d.Policy.Validate(); err != nil {
		return nil, nil, invalid("%w", err)
	}
	if len(d.Members) == 0 {
		return nil, nil, invalid("no founding members")
	}
	t := d.GenesisTime
	c := &content{
		Members: map[string]Member{}, Keys: map[string]Key{}, Nodes: map[string]Node{},
		Certificates: map[string]Certificate{}, Schemas: map[string]SchemaBundle{},
		Policy: d.Policy, Proposals: map[string]Proposal{},
	}
	x := &execution{next: c, t: t, via: ViaGenesis}
	for _, gm := range d.Members {
		if !protocol.IsMemberID(gm.ID) || !validText(gm.Name, false) {
			return nil, nil, invalid("member %q: id (ISO 3166-1 alpha-2) and name are required", gm.ID)
		}
		if _, dup := c.Members[gm.ID]; dup {
			return nil, nil, invalid("member %s listed twice", gm.ID)
		}
		if !slices.ContainsFunc(gm.Keys, func(k KeySpec) bool { return k.Role == RoleGovernance }) {
			return nil, nil, invalid("member %s has no governance key", gm.ID)
		}
		if err := checkKeySpecs(gm.Keys, gm.ID); err != nil {
			return nil, nil, invalid("member %s: %w", gm.ID, err)
		}
		for _, ks := range gm.Keys {
			k, rej := x.newKey(ks, gm.ID)
			if rej != nil {
				return nil, nil, invalid("member %s: %s", gm.ID, rej.Detail)
			}
			if k.validAt(t) != nil {
				return nil, nil, invalid("key %s is not valid at genesisTime %s", k.Kid, t)
			}
			c.Keys[k.Kid] = k
		}
		c.Members[gm.ID] = Member{ID: gm.ID, Name: gm.Name, Status: StatusActive,
			History: []StatusChange{{Status: StatusActive, Since: t}}, AdmittedAt: t}
	}
	voters := 0
	for _, gn := range d.Nodes {
		ns := NodeSpec{ID: gn.ID, RaftAddress: gn.RaftAddress, APIURL: gn.APIURL, TLSSPKISHA256: gn.TLSSPKISHA256, DesiredRole: gn.Role}
		if _, ok := c.Members[gn.Member]; !ok {
			return nil, nil, invalid("node %s: no founding member %q", gn.ID, gn.Member)
		}
		if err := ns.validate(gn.Member); err != nil {
			return nil, nil, invalid("%w", err)
		}
		for _, n := range c.Nodes {
			if n.ID == gn.ID || n.RaftAddress == gn.RaftAddress || n.TLSSPKISHA256 == gn.TLSSPKISHA256 {
				return nil, nil, invalid("node %s: id, raft address or TLS pin used by node %s", gn.ID, n.ID)
			}
		}
		if gn.Role == RoleVoter {
			voters++
		}
		c.Nodes[gn.ID] = Node{ID: gn.ID, Member: gn.Member, RaftAddress: gn.RaftAddress, APIURL: gn.APIURL,
			TLSSPKISHA256: gn.TLSSPKISHA256, DesiredRole: gn.Role, Role: gn.Role, RegisteredAt: t, AddedVia: ViaGenesis}
	}
	if voters == 0 {
		return nil, nil, invalid("no voter among the founding nodes")
	}
	for _, sc := range d.Schemas {
		a := SchemaPublishArgs(sc)
		if err := a.check(nil); err != nil {
			return nil, nil, invalid("schema: %w", err)
		}
		if _, dup := c.Schemas[sc.Version]; dup {
			return nil, nil, invalid("schema %s listed twice", sc.Version)
		}
		c.Schemas[sc.Version] = SchemaBundle{Version: sc.Version, SHA256: sc.SHA256, PublishedAt: t}
	}
	return &d, c, nil
}

// ParseGenesis validates a genesis document and its endorsements (REGISTRY.md
// §3): every key listed in the document must have endorsed exactly these
// bytes. Errors wrap ErrInvalidGenesis. Check the pin with CheckPin.
func ParseGenesis(doc []byte, endorsements [][]byte) (*Genesis, error) {
	d, c, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	hash := sum(doc)
	lookup := keyLookup{keys: c.Keys}
	endorsed := map[string]bool{}
	for i, tok := range endorsements {
		v, err := jws.Verify(tok, lookup, jws.Options{Typ: protocol.TypRegistryCmd})
		if err != nil {
			return nil, invalid("endorsement %d: %w", i, err)
		}
		cmd, rej := parseCommand(v.Payload)
		if rej != nil {
			return nil, invalid("endorsement %d: %s", i, rej.Detail)
		}
		var args EndorseArgs
		switch {
		case cmd.Type != CmdGenesisEndorse:
			return nil, invalid("endorsement %d: type %q, want %q", i, cmd.Type, CmdGenesisEndorse)
		case cmd.Network != hash:
			return nil, invalid("endorsement %d by %s endorses another document (%s)", i, v.Kid, cmd.Network)
		case cmd.Member != v.Key.Member:
			return nil, invalid("endorsement %d: member %s signed with a key of %s", i, cmd.Member, v.Key.Member)
		case DecodeStrict(cmd.Args, &args) != nil:
			return nil, invalid("endorsement %d: args must be {}", i)
		case endorsed[v.Kid]:
			return nil, invalid("key %s endorsed twice", v.Kid)
		}
		endorsed[v.Kid] = true
	}
	for _, kid := range sortedKeys(c.Keys) {
		if !endorsed[kid] {
			return nil, invalid("key %s has not endorsed the genesis", kid)
		}
	}
	h, err := c.hash()
	if err != nil {
		return nil, invalid("%w", err)
	}
	raw, _ := hex.DecodeString(hash)
	st := &State{genesisHash: hash, consensusTime: d.GenesisTime, c: c, contentHash: h, usedIDs: map[string]uint64{}}
	copy(st.chainHead[:], raw)
	g := &Genesis{doc: slices.Clone(doc), hash: hash, document: *d, state: st}
	for _, e := range endorsements {
		g.endorsements = append(g.endorsements, slices.Clone(e))
	}
	return g, nil
}

// Endorse signs the endorsement of doc with one of its keys (REGISTRY.md §3).
// id must be a fresh UUID and issuedAt the signer's clock; the caller
// provides both, so that this function stays pure.
func Endorse(doc []byte, s *jws.Signer, id string, issuedAt Timestamp) ([]byte, error) {
	cmd := Command{Network: sum(doc), ID: id, Type: CmdGenesisEndorse, IssuedAt: issuedAt, Member: s.Member(), Args: json.RawMessage("{}")}
	return cmd.Sign(s)
}

// EndorsementsFile is genesis.endorsements.json.
type EndorsementsFile struct {
	GenesisSHA256 string   `json:"genesisSha256"`
	Endorsements  []string `json:"endorsements"`
}

// ParseEndorsementsFile decodes genesis.endorsements.json and checks that it
// is for doc.
func ParseEndorsementsFile(data, doc []byte) ([][]byte, error) {
	var f EndorsementsFile
	if err := DecodeStrict(data, &f); err != nil {
		return nil, invalid("endorsements file: %w", err)
	}
	if f.GenesisSHA256 != sum(doc) {
		return nil, invalid("endorsements file is for genesis %s, the document is %s", f.GenesisSHA256, sum(doc))
	}
	out := make([][]byte, len(f.Endorsements))
	for i, e := range f.Endorsements {
		out[i] = []byte(e)
	}
	return out, nil
}

// MarshalEndorsementsFile writes genesis.endorsements.json.
func MarshalEndorsementsFile(doc []byte, endorsements [][]byte) ([]byte, error) {
	f := EndorsementsFile{GenesisSHA256: sum(doc), Endorsements: make([]string, len(endorsements))}
	for i, e := range endorsements {
		f.Endorsements[i] = string(e)
	}
	return json.MarshalIndent(f, "", "  ")
}
