package trust

import (
	"encoding/base64"
	"fmt"
)

// BundleFormat is the "format" of a trust bundle (REGISTRY.md §12).
const BundleFormat = "crvsx-trust-bundle/1"

// MaxBundleBytes bounds a trust bundle ParseBundle accepts.
const MaxBundleBytes = 64 << 20

// Bundle is a portable trust bundle: the genesis and every applied entry.
type Bundle struct {
	Format    string        `json:"format"`
	Genesis   BundleGenesis `json:"genesis"`
	Entries   []BundleEntry `json:"entries"`
	ChainHead string        `json:"chainHead,omitempty"`
}

// BundleGenesis carries the genesis document's exact bytes and its
// endorsements.
type BundleGenesis struct {
	Document     string   `json:"document"` // base64url of the exact bytes
	Endorsements []string `json:"endorsements"`
}

// BundleEntry is one applied entry.
type BundleEntry struct {
	Index uint64    `json:"index"`
	Time  Timestamp `json:"time"`
	Data  string    `json:"data"`
}

// NewBundle builds a bundle of g and entries (in applied order); chainHead
// is the head the exporter reached ("" to omit).
func NewBundle(g *Genesis, entries []Entry, chainHead string) *Bundle {
	b := &Bundle{Format: BundleFormat, ChainHead: chainHead, Entries: make([]BundleEntry, 0, len(entries)),
		Genesis: BundleGenesis{Document: base64.RawURLEncoding.EncodeToString(g.doc), Endorsements: make([]string, 0, len(g.endorsements))}}
	for _, e := range g.endorsements {
		b.Genesis.Endorsements = append(b.Genesis.Endorsements, string(e))
	}
	for _, e := range entries {
		b.Entries = append(b.Entries, BundleEntry{Index: e.Index, Time: e.Time, Data: string(e.Data)})
	}
	return b
}

// Marshal encodes the bundle (JCS).
func (b *Bundle) Marshal() ([]byte, error) { return canonicalJSON(b) }

// ParseBundle decodes a trust bundle.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrInvalidBundle, len(data), MaxBundleBytes)
	}
	var b Bundle
	if err := DecodeStrict(data, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("%w: format %q", ErrInvalidBundle, b.Format)
	}
	return &b, nil
}

// ParseGenesis parses and validates the bundle's genesis and checks it against
// pin (ErrGenesisPin).
func (b *Bundle) ParseGenesis(pin string) (*Genesis, error) {
	doc, err := base64.RawURLEncoding.Strict().DecodeString(b.Genesis.Document)
	if err != nil {
		return nil, fmt.Errorf("%w: genesis document: %w", ErrInvalidBundle, err)
	}
	// > REGISTRY.md §12: the pin is checked before anything else is trusted.
	if h := GenesisHash(doc); h != pin {
		return nil, fmt.Errorf("%w: bundle genesis %s, pin %q", ErrGenesisPin, h, pin)
	}
	ends := make([][]byte, len(b.Genesis.Endorsements))
	for i, e := range b.Genesis.Endorsements {
		ends[i] = []byte(e)
	}
	return ParseGenesis(doc, ends)
}

// Replay rebuilds the registry state from a bundle with the same Apply the
// cluster uses (REGISTRY.md §12): it pins the genesis, applies every entry in
// order and, if the bundle states a chain head, checks that it was reached
// (ErrChainMismatch). It returns the final state and each entry's result.
func Replay(b *Bundle, pin string) (*State, []Result, error) {
	g, err := b.ParseGenesis(pin)
	if err != nil {
		return nil, nil, err
	}
	s := NewState(g)
	results := make([]Result, 0, len(b.Entries))
	for i, be := range b.Entries {
		var res Result
		s, res, err = Apply(s, Entry{Index: be.Index, Time: be.Time, Data: []byte(be.Data)})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d: %w", ErrInvalidBundle, i, err)
		}
		results = append(results, res)
	}
	if b.ChainHead != "" && b.ChainHead != s.ChainHead() {
		return nil, nil, fmt.Errorf("%w: reached %s, bundle states %s", ErrChainMismatch, s.ChainHead(), b.ChainHead)
	}
	return s, results, nil
}
