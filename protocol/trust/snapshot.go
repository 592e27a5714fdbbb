package trust

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/ecrn/crvsx/protocol/jws"
)

// SnapshotFormat is the "format" of a snapshot body (REGISTRY.md §11).
const SnapshotFormat = "crvsx-registry-state/1"

// MaxSnapshotBytes bounds a snapshot RestoreSnapshot accepts.
const MaxSnapshotBytes = 256 << 20

type snapshotBody struct {
	Format        string            `json:"format"`
	GenesisHash   string            `json:"genesisHash"`
	AppliedIndex  uint64            `json:"appliedIndex"`
	ConsensusTime Timestamp         `json:"consensusTime"`
	ChainHead     string            `json:"chainHead"`
	StateHash     string            `json:"stateHash"`
	Content       *content          `json:"content"`
	UsedIDs       map[string]uint64 `json:"usedIds"`
	Rejections    []RejectionRecord `json:"rejections"`
}

type snapshotFile struct {
	Body   json.RawMessage `json:"body"`
	SHA256 string          `json:"sha256"`
}

// MarshalSnapshot returns the canonical, checksummed encoding of s: JCS of
// {"body": B, "sha256": SHA-256(JCS(B))} (REGISTRY.md §11). Equal states give
// equal bytes.
func MarshalSnapshot(s *State) ([]byte, error) {
	rej := s.rejections
	if rej == nil {
		rej = []RejectionRecord{}
	}
	body, err := canonicalJSON(snapshotBody{
		Format: SnapshotFormat, GenesisHash: s.genesisHash, AppliedIndex: s.appliedIndex,
		ConsensusTime: s.consensusTime, ChainHead: s.ChainHead(), StateHash: s.Hash(),
		Content: s.c, UsedIDs: s.usedIDs, Rejections: rej,
	})
	if err != nil {
		return nil, fmt.Errorf("registry: encode snapshot: %w", err)
	}
	return canonicalJSON(snapshotFile{Body: body, SHA256: sum(body)})
}

// Corruptf returns ErrCorruptSnapshot wrapped with a formatted detail.
func Corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}

// RestoreSnapshot decodes a snapshot of the network of g. It refuses
// (ErrCorruptSnapshot) anything that is not exactly the canonical encoding,
// whose checksum or state hash does not match, that belongs to another
// genesis, or whose content breaks an invariant; the caller then keeps its
// previous state.
func RestoreSnapshot(data []byte, g *Genesis) (*State, error) {
	if len(data) > MaxSnapshotBytes {
		return nil, Corruptf("%d bytes exceeds %d", len(data), MaxSnapshotBytes)
	}
	canon, err := canonicalize(data)
	if err != nil || !bytes.Equal(canon, data) {
		return nil, Corruptf("not in canonical form")
	}
	var f snapshotFile
	if err := DecodeStrict(data, &f); err != nil {
		return nil, Corruptf("%w", err)
	}
	if sum(f.Body) != f.SHA256 {
		return nil, Corruptf("checksum mismatch")
	}
	var b snapshotBody
	if err := DecodeStrict(f.Body, &b); err != nil {
		return nil, Corruptf("%w", err)
	}
	if b.Format != SnapshotFormat {
		return nil, Corruptf("format %q", b.Format)
	}
	if b.GenesisHash != g.hash {
		return nil, Corruptf("snapshot of genesis %s, this node pins %s", b.GenesisHash, g.hash)
	}
	if b.Content == nil || b.UsedIDs == nil || b.ConsensusTime < g.document.GenesisTime || len(b.Rejections) > maxRejectionRecords {
		return nil, Corruptf("missing or inconsistent journal")
	}
	c := b.Content
	if c.Members == nil || c.Keys == nil || c.Nodes == nil || c.Certificates == nil || c.Schemas == nil || c.Proposals == nil {
		return nil, Corruptf("missing content maps")
	}
	if err := c.Policy.Validate(); err != nil {
		return nil, Corruptf("%w", err)
	}
	for id, m := range c.Members {
		if m.ID != id || len(m.History) == 0 || m.History[len(m.History)-1].Status != m.Status {
			return nil, Corruptf("member %q is inconsistent", id)
		}
	}
	for kid, k := range c.Keys {
		pub, err := jws.ParsePublicJWK(k.JWK)
		if err != nil {
			return nil, Corruptf("key %q: %w", kid, err)
		}
		want, err := canonicalJWK(pub)
		if err != nil || !bytes.Equal(want, k.JWK) || pub.Kid != kid || pub.Member != k.Member || pub.Alg != k.Alg {
			return nil, Corruptf("key %q does not match its JWK", kid)
		}
		if _, ok := c.Members[k.Member]; !ok {
			return nil, Corruptf("key %q of unknown member", kid)
		}
		k.pub = pub
		c.Keys[kid] = k
	}
	for id, n := range c.Nodes {
		if n.ID != id {
			return nil, Corruptf("node %q is inconsistent", id)
		}
	}
	if err := restoreRequesters(c); err != nil {
		return nil, err
	}
	s := &State{genesisHash: b.GenesisHash, appliedIndex: b.AppliedIndex, consensusTime: b.ConsensusTime,
		c: c, usedIDs: b.UsedIDs, rejections: b.Rejections}
	if len(s.rejections) == 0 {
		s.rejections = nil
	}
	head, err := hex.DecodeString(b.ChainHead)
	if err != nil || len(head) != 32 {
		return nil, Corruptf("chain head")
	}
	copy(s.chainHead[:], head)
	if s.contentHash, err = c.hash(); err != nil {
		return nil, Corruptf("%w", err)
	}
	if s.Hash() != b.StateHash {
		return nil, Corruptf("state hash mismatch")
	}
	return s, nil
}
