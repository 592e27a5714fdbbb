package trust

import (
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// View is the verifier's immutable view of the registry (REGISTRY.md
// §10): kid → key with its role, status, validity interval and its member's
// status history; the nodes by id and by TLS pin; and, apart from the
// member keys, the requesters by id and by TLS pin with their keys
// (REGISTRY.md §2.1: RequesterKeys, RequesterKeyValidAt). The shell builds one
// after each apply and publishes it with atomic.Pointer.Store; readers Load
// it and never block on Raft. All methods are safe for concurrent use and
// LookupKey does not allocate.
type View struct {
	keys          map[string]*viewKey
	nodes         map[string]Node
	nodesByPin    map[string]string
	members       map[string]string // member → current status
	requesters    map[string]Requester
	reqByPin      map[string]string // pin → requester id
	reqKeys       requesterKeyLookup
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

// Requester is a requester (REGISTRY.md §2.1) as the trust view gives it to
// the query path: who it is, its client TLS pin, its scope, its rate limit
// and its current status. Its slices must not be modified.
type Requester struct {
	ID, Name, OrganizationType            string
	TLSSPKISHA256                         string
	Countries, Questions, Bases, Purposes []string
	RatePerMinute, RateBurst              int
	Status                                string // StatusActive or StatusSuspended
	RegisteredAt                          Timestamp
}

type viewRequesterKey struct {
	key              jws.Key
	status           string
	notBefore        Timestamp
	notAfter         Timestamp
	retiredAt        Timestamp
	compromisedSince Timestamp
	registeredAt     Timestamp // of the requester
}

// requesterKeyLookup is the jws.KeyLookup over requester keys only. A map
// is pointer-shaped, so it converts to the interface without allocating.
type requesterKeyLookup map[string]*viewRequesterKey

func (l requesterKeyLookup) LookupKey(kid string) (jws.Key, bool) {
	e, ok := l[kid]
	if !ok {
		return jws.Key{}, false
	}
	return e.key, true
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

// NewView builds the trust view of s.
func NewView(s *State) *View {
	v := &View{
		keys:          make(map[string]*viewKey, len(s.c.Keys)),
		nodes:         make(map[string]Node, len(s.c.Nodes)),
		nodesByPin:    make(map[string]string, len(s.c.Nodes)),
		members:       make(map[string]string, len(s.c.Members)),
		requesters:    make(map[string]Requester, len(s.c.Requesters)),
		reqByPin:      make(map[string]string, len(s.c.Requesters)),
		reqKeys:       requesterKeyLookup{},
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
	for id, r := range s.c.Requesters {
		v.requesters[id] = Requester{ID: r.ID, Name: r.Name, OrganizationType: r.OrganizationType, TLSSPKISHA256: r.TLSSPKISHA256,
			Countries: r.Countries, Questions: r.Questions, Bases: r.Bases, Purposes: r.Purposes, RatePerMinute: r.Rate.PerMinute, RateBurst: r.Rate.Burst,
			Status: r.Status, RegisteredAt: r.RegisteredAt}
		v.reqByPin[r.TLSSPKISHA256] = id
		for _, k := range r.Keys {
			v.reqKeys[k.Kid] = &viewRequesterKey{key: k.pub, status: k.Status, notBefore: k.NotBefore, notAfter: k.NotAfter,
				retiredAt: k.RetiredAt, compromisedSince: k.CompromisedSince, registeredAt: r.RegisteredAt}
		}
	}
	return v
}

// Requester returns a registered requester by id, whatever its status
// (REGISTRY.md §10).
func (v *View) Requester(id string) (Requester, bool) { r, ok := v.requesters[id]; return r, ok }

// RequesterByPin returns the requester whose client TLS key has this SPKI
// SHA-256 (64 lower-case hex), whatever its status: who an mTLS client of
// POST /v1/queries is (SPEC §11.2 step 2).
func (v *View) RequesterByPin(spkiSHA256 string) (Requester, bool) {
	id, ok := v.reqByPin[spkiSHA256]
	if !ok {
		return Requester{}, false
	}
	return v.requesters[id], true
}

// RequesterKeys is a jws.KeyLookup over requester signing keys only
// (REGISTRY.md §2.1, SPEC §11.1): every requester key whatever its status,
// and no member key, so that a query signed by a member key is
// KEY_UNKNOWN. Check the key with RequesterKeyValidAt after verifying.
// Its LookupKey does not allocate.
func (v *View) RequesterKeys() jws.KeyLookup { return v.reqKeys }

// RequesterKeyValidAt reports whether the requester key kid could sign a
// query created at t (REGISTRY.md §10): notBefore ≤ t < notAfter, not
// retired at or before t, before the compromise if revoked as
// compromised, and its requester registered at or before t. It returns
// nil, or a *protocol.Error with KEY_UNKNOWN (not a requester key) or
// KEY_NOT_VALID. It does not look at the requester's current status: the
// caller checks that (REQUESTER_SUSPENDED).
func (v *View) RequesterKeyValidAt(kid string, t time.Time) error {
	e, ok := v.reqKeys[kid]
	if !ok {
		return protocol.Errorf(protocol.CodeKeyUnknown, "key %q is not a requester key in this node's trust view", kid)
	}
	ts := TimestampOf(t)
	k := Key{Kid: kid, NotBefore: e.notBefore, NotAfter: e.notAfter, Status: e.status, RetiredAt: e.retiredAt, CompromisedSince: e.compromisedSince}
	if err := k.validAt(ts); err != nil {
		return protocol.Errorf(protocol.CodeKeyNotValid, "%w; the query was created at %s", err, ts)
	}
	if ts < e.registeredAt {
		return protocol.Errorf(protocol.CodeKeyNotValid, "requester %s was not registered at %s (registered %s)", e.key.Member, ts, e.registeredAt)
	}
	return nil
}

// LookupKey implements jws.KeyLookup for messages: it returns signing keys
// only, whatever their status, so that jws.Verify tells an unknown key from
// a bad signature. Check the key's validity at the message's time with
// ValidAt after verifying.
func (v *View) LookupKey(kid string) (jws.Key, bool) {
	e, ok := v.keys[kid]
	if !ok || e.role != RoleSigning {
		return jws.Key{}, false
	}
	return e.key, true
}

// ValidAt reports whether the signing key kid could sign a message created
// at t (REGISTRY.md §10, SPEC §2): notBefore ≤ t < notAfter, not retired at
// or before t, before the compromise if revoked as compromised, and its
// member active at t. It returns nil, or a *protocol.Error with
// KEY_UNKNOWN or KEY_NOT_VALID.
func (v *View) ValidAt(kid string, t time.Time) error {
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

// ValidAt is Key.ValidAt for what a view knows of a key.
func (k KeyInfo) ValidAt(t Timestamp) error {
	return Key{Kid: k.Key.Kid, NotBefore: k.NotBefore, NotAfter: k.NotAfter, Status: k.Status, RetiredAt: k.RetiredAt,
		CompromisedSince: k.CompromisedSince}.validAt(t)
}

// KeyInfo returns what the view knows of any key, governance keys included.
func (v *View) KeyInfo(kid string) (KeyInfo, bool) {
	e, ok := v.keys[kid]
	if !ok {
		return KeyInfo{}, false
	}
	return KeyInfo{Key: e.key, Role: e.role, Status: e.status, NotBefore: e.notBefore, NotAfter: e.notAfter,
		RetiredAt: e.retiredAt, CompromisedSince: e.compromisedSince}, true
}

// Node returns a registered node by id.
func (v *View) Node(id string) (Node, bool) { n, ok := v.nodes[id]; return n, ok }

// NodeByPin returns the node whose TLS key has this SPKI SHA-256 (hex): the
// mTLS transport's check of a peer (node/registry DESIGN.md §13).
func (v *View) NodeByPin(spkiSHA256 string) (Node, bool) {
	id, ok := v.nodesByPin[spkiSHA256]
	if !ok {
		return Node{}, false
	}
	return v.nodes[id], true
}

// MemberActive reports whether member is active in the state the view was
// built from: the only members a node sends personal data to or accepts
// as peers.
func (v *View) MemberActive(member string) bool { return v.members[member] == StatusActive }

// ActiveNode returns the registered node id if its member is active: the
// only kind of node a member node delivers to (a suspended member's node
// keeps its queue until it is reinstated or the deliveries' lifetime
// ends).
func (v *View) ActiveNode(id string) (Node, bool) {
	n, ok := v.nodes[id]
	if !ok || !v.MemberActive(n.Member) {
		return Node{}, false
	}
	return n, true
}

// ActiveNodeByPin returns the node whose TLS key has this pin if its member
// is active: who an mTLS client of the peer API is.
func (v *View) ActiveNodeByPin(spkiSHA256 string) (Node, bool) {
	n, ok := v.NodeByPin(spkiSHA256)
	if !ok || !v.MemberActive(n.Member) {
		return Node{}, false
	}
	return n, true
}

// NodeOfMember returns the node a message to an active member goes to. A
// member normally runs one node; with several (a second site, a
// migration), it is the one with an API URL registered first (then the
// smallest id), so the choice is the same on every sender and does not
// move when a node is added.
func (v *View) NodeOfMember(member string) (Node, bool) {
	if !v.MemberActive(member) {
		return Node{}, false
	}
	var best Node
	found := false
	for _, n := range v.nodes {
		if n.Member != member || n.APIURL == "" {
			continue
		}
		if !found || n.RegisteredAt < best.RegisteredAt || n.RegisteredAt == best.RegisteredAt && n.ID < best.ID {
			best, found = n, true
		}
	}
	return best, found
}

// GenesisHash, AppliedIndex, ConsensusTime, StateHash and ChainHead describe
// the state the view was built from.
func (v *View) GenesisHash() string { return v.genesisHash }

// AppliedIndex is the index of the state the view was built from.
func (v *View) AppliedIndex() uint64 { return v.appliedIndex }

// ConsensusTime is the consensus time of the state the view was built from.
func (v *View) ConsensusTime() Timestamp { return v.consensusTime }

// StateHash is State.Hash of the state the view was built from.
func (v *View) StateHash() string { return v.stateHash }

// ChainHead is State.ChainHead of the state the view was built from.
func (v *View) ChainHead() string { return v.chainHead }
