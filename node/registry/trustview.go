package registry

import (
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// TrustView is the verifier's immutable view of the registry (DESIGN.md
// §10): kid → key with its role, status, validity interval and its member's
// status history; and the nodes by id and by TLS pin. The shell builds one
// after each apply and publishes it with atomic.Pointer.Store; readers Load
// it and never block on Raft. All methods are safe for concurrent use and
// LookupKey does not allocate.
type TrustView struct {
	keys          map[string]*viewKey
	nodes         map[string]Node
	nodesByPin    map[string]string
	members       map[string]string // member → current status
	genesisHash   string
	appliedIndex  uint64
	consensusTime Timestamp
	stateHash     string
	chainHead     string
}

type viewKey struct {
	key              jws.Key
	role, status     string
	notBefore        Timestamp
	notAfter         Timestamp
	retiredAt        Timestamp
	compromisedSince Timestamp
	member           []StatusChange
}

// KeyInfo describes a key in a trust view.
type KeyInfo struct {
	Key              jws.Key
	Role             string
	Status           string
	NotBefore        Timestamp
	NotAfter         Timestamp
	RetiredAt        Timestamp
	CompromisedSince Timestamp
}

// NewTrustView builds the trust view of s.
func NewTrustView(s *State) *TrustView {
	v := &TrustView{
		keys:          make(map[string]*viewKey, len(s.c.Keys)),
		nodes:         make(map[string]Node, len(s.c.Nodes)),
		nodesByPin:    make(map[string]string, len(s.c.Nodes)),
		members:       make(map[string]string, len(s.c.Members)),
		genesisHash:   s.genesisHash,
		appliedIndex:  s.appliedIndex,
		consensusTime: s.consensusTime,
		stateHash:     s.Hash(),
		chainHead:     s.ChainHead(),
	}
	for kid, k := range s.c.Keys {
		v.keys[kid] = &viewKey{key: k.pub, role: k.Role, status: k.Status, notBefore: k.NotBefore, notAfter: k.NotAfter,
			retiredAt: k.RetiredAt, compromisedSince: k.CompromisedSince, member: s.c.Members[k.Member].History}
	}
	for id, m := range s.c.Members {
		v.members[id] = m.Status
	}
	for id, n := range s.c.Nodes {
		v.nodes[id] = n
		v.nodesByPin[n.TLSSPKISHA256] = id
	}
	return v
}

// LookupKey implements jws.KeyLookup for messages: it returns signing keys
// only, whatever their status, so that jws.Verify tells an unknown key from
// a bad signature. Check the key's validity at the message's time with
// ValidAt after verifying.
func (v *TrustView) LookupKey(kid string) (jws.Key, bool) {
	e, ok := v.keys[kid]
	if !ok || e.role != RoleSigning {
		return jws.Key{}, false
	}
	return e.key, true
}

// ValidAt reports whether the signing key kid could sign a message created
// at t (DESIGN.md §10, SPEC §2): notBefore ≤ t < notAfter, not retired at
// or before t, before the compromise if revoked as compromised, and its
// member active at t. It returns nil, or a *protocol.Error with
// KEY_UNKNOWN or KEY_NOT_VALID.
func (v *TrustView) ValidAt(kid string, t time.Time) error {
	e, ok := v.keys[kid]
	if !ok || e.role != RoleSigning {
		return protocol.Errorf(protocol.CodeKeyUnknown, "key %q is not a signing key in this node's trust view", kid)
	}
	ts := TimestampOf(t)
	k := Key{Kid: kid, NotBefore: e.notBefore, NotAfter: e.notAfter, Status: e.status, RetiredAt: e.retiredAt, CompromisedSince: e.compromisedSince}
	if err := k.validAt(ts); err != nil {
		return protocol.Errorf(protocol.CodeKeyNotValid, "%w; the message was created at %s", err, ts)
	}
	if st := (Member{History: e.member}).StatusAt(ts); st != StatusActive {
		return protocol.Errorf(protocol.CodeKeyNotValid, "member %s was not active at %s", e.key.Member, ts)
	}
	return nil
}

// KeyInfo returns what the view knows of any key, governance keys included.
func (v *TrustView) KeyInfo(kid string) (KeyInfo, bool) {
	e, ok := v.keys[kid]
	if !ok {
		return KeyInfo{}, false
	}
	return KeyInfo{Key: e.key, Role: e.role, Status: e.status, NotBefore: e.notBefore, NotAfter: e.notAfter,
		RetiredAt: e.retiredAt, CompromisedSince: e.compromisedSince}, true
}

// Node returns a registered node by id.
func (v *TrustView) Node(id string) (Node, bool) { n, ok := v.nodes[id]; return n, ok }

// NodeByPin returns the node whose TLS key has this SPKI SHA-256 (hex): the
// mTLS transport's check of a peer (DESIGN.md §13).
func (v *TrustView) NodeByPin(spkiSHA256 string) (Node, bool) {
	id, ok := v.nodesByPin[spkiSHA256]
	if !ok {
		return Node{}, false
	}
	return v.nodes[id], true
}

// GenesisHash, AppliedIndex, ConsensusTime, StateHash and ChainHead describe
// the state the view was built from.
func (v *TrustView) GenesisHash() string { return v.genesisHash }

// AppliedIndex is the index of the state the view was built from.
func (v *TrustView) AppliedIndex() uint64 { return v.appliedIndex }

// ConsensusTime is the consensus time of the state the view was built from.
func (v *TrustView) ConsensusTime() Timestamp { return v.consensusTime }

// StateHash is State.Hash of the state the view was built from.
func (v *TrustView) StateHash() string { return v.stateHash }

// ChainHead is State.ChainHead of the state the view was built from.
func (v *TrustView) ChainHead() string { return v.chainHead }
