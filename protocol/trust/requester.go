package trust

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// Requester command types (REGISTRY.md §7.1): network commands.
const (
	CmdRequesterRegister  = "requester.register"
	CmdRequesterUpdate    = "requester.update"
	CmdRequesterSuspend   = "requester.suspend"
	CmdRequesterReinstate = "requester.reinstate"
)

// Bounds of a requester (REGISTRY.md §2.1).
const (
	MaxRequesterKeys      = 16
	MaxRequesterCountries = 256
	MaxRatePerMinute      = 6000
	MaxRateBurst          = 600
)

// The closed vocabularies of a requester (REGISTRY.md §2.1, the values of
// status.query), sorted.
var (
	requesterOrgTypes  = []string{"border-agency", "civil-registry", "consular", "court", "humanitarian-ngo", "humanitarian-un", "social-protection"}
	requesterQuestions = sortedQuestions()
	requesterBases     = []string{"data-subject-consent", "legal-obligation", "public-interest-mandate", "vital-interest"}
	// The envelope purposes (common.schema.json#/definitions/purpose) a
	// query may carry.
	requesterPurposes = []string{"acknowledgement", "birthplace-notification", "citizenship-notification", "correction-notice",
		"family-reunification", "humanitarian-verification", "identification-assistance", "nationality-determination",
		"protection-notification", "residence-notification", "statistics"}
)

// sortedQuestions are protocol.StatusQuestions' questions, sorted.
func sortedQuestions() []string {
	qs := make([]string, 0, len(protocol.StatusQuestions))
	for _, q := range protocol.StatusQuestions {
		qs = append(qs, q.Question)
	}
	slices.Sort(qs)
	return qs
}

// RequesterOrganizationTypes, RequesterQuestions and RequesterConsentBases
// return the values REGISTRY.md §2.1 allows, sorted (fresh slices).
func RequesterOrganizationTypes() []string { return slices.Clone(requesterOrgTypes) }

// RequesterQuestions: see RequesterOrganizationTypes.
func RequesterQuestions() []string { return slices.Clone(requesterQuestions) }

// RequesterConsentBases: see RequesterOrganizationTypes.
func RequesterConsentBases() []string { return slices.Clone(requesterBases) }

// RequesterPurposes: see RequesterOrganizationTypes.
func RequesterPurposes() []string { return slices.Clone(requesterPurposes) }

// Rate is a requester's rate limit at one member node.
type Rate struct {
	PerMinute int `json:"perMinute"`
	Burst     int `json:"burst"`
}

// RequesterKey is a requester's signing key as the registry holds it
// (REGISTRY.md §2.1): it signs status.query messages only.
type RequesterKey struct {
	Kid              string          `json:"kid"`
	Alg              string          `json:"alg"`
	JWK              json.RawMessage `json:"jwk"`
	NotBefore        Timestamp       `json:"notBefore"`
	NotAfter         Timestamp       `json:"notAfter"`
	Status           string          `json:"status"`
	RetiredAt        Timestamp       `json:"retiredAt,omitempty"`
	CompromisedSince Timestamp       `json:"compromisedSince,omitempty"`
	RevokedAt        Timestamp       `json:"revokedAt,omitempty"`
	AddedAt          Timestamp       `json:"addedAt"`

	pub jws.Key // parsed JWK; not encoded
}

// Public returns the key as protocol/jws uses it (Member is the requester
// id).
func (k RequesterKey) Public() jws.Key { return k.pub }

// RequesterRecord is a requester as the registry state holds it
// (REGISTRY.md §2.1). The trust view's summary of it is Requester.
type RequesterRecord struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	OrganizationType string         `json:"organizationType"`
	Keys             []RequesterKey `json:"keys"`
	TLSSPKISHA256    string         `json:"tlsSpkiSha256"`
	Countries        []string       `json:"countries"`
	Questions        []string       `json:"questions"`
	Bases            []string       `json:"bases"`
	Purposes         []string       `json:"purposes"`
	Rate             Rate           `json:"rate"`
	Status           string         `json:"status"`
	History          []StatusChange `json:"history"`
	RegisteredAt     Timestamp      `json:"registeredAt"`
}

// RequesterKeySpec introduces a requester key: a public JWK of SPEC §2 whose
// member is the requester id, and its validity interval.
type RequesterKeySpec struct {
	JWK       json.RawMessage `json:"jwk"`
	NotBefore Timestamp       `json:"notBefore"`
	NotAfter  Timestamp       `json:"notAfter"`
}

// RequesterSpec is the args' description of a requester
// (requester.register, requester.update).
type RequesterSpec struct {
	ID               string             `json:"id"`
	Name             string             `json:"name"`
	OrganizationType string             `json:"organizationType"`
	Keys             []RequesterKeySpec `json:"keys"`
	TLSSPKISHA256    string             `json:"tlsSpkiSha256"`
	Countries        []string           `json:"countries"`
	Questions        []string           `json:"questions"`
	Bases            []string           `json:"bases"`
	Purposes         []string           `json:"purposes"`
	Rate             Rate               `json:"rate"`
}

// RequesterRegisterArgs: requester.register.
type RequesterRegisterArgs struct {
	Requester RequesterSpec `json:"requester"`
}

// RequesterUpdateArgs: requester.update.
type RequesterUpdateArgs struct {
	Requester RequesterSpec `json:"requester"`
}

// RequesterSuspendArgs: requester.suspend.
type RequesterSuspendArgs struct {
	Requester string `json:"requester"`
	Reason    string `json:"reason"`
}

// RequesterReinstateArgs: requester.reinstate.
type RequesterReinstateArgs struct {
	Requester string `json:"requester"`
}

// checkList: 1…max values, each allowed, none twice.
func checkList(name string, vals []string, max int, allowed func(string) bool) error {
	if len(vals) == 0 || len(vals) > max {
		return fmt.Errorf("%s: 1…%d values are needed", name, max)
	}
	seen := map[string]bool{}
	for _, v := range vals {
		if !allowed(v) {
			return fmt.Errorf("%s: %q is not allowed", name, truncate(v))
		}
		if seen[v] {
			return fmt.Errorf("%s: %q listed twice", name, v)
		}
		seen[v] = true
	}
	return nil
}

// parse checks a requester key spec on its own (REGISTRY.md §7.1 step 4).
func (ks RequesterKeySpec) parse(requester string) (jws.Key, error) {
	if len(ks.JWK) == 0 {
		return jws.Key{}, fmt.Errorf("key without jwk")
	}
	k, err := jws.ParsePublicJWK(ks.JWK)
	if err != nil {
		return jws.Key{}, err
	}
	if k.Member != requester {
		return jws.Key{}, fmt.Errorf("key %s belongs to %s, not %s", k.Kid, k.Member, requester)
	}
	if ks.NotBefore == 0 || ks.NotAfter == 0 || ks.NotBefore >= ks.NotAfter {
		return jws.Key{}, fmt.Errorf("key %s: notBefore must be before notAfter", k.Kid)
	}
	return k, nil
}

// check is REGISTRY.md §7.1 step 4: the spec's own rules.
func (rs RequesterSpec) check() error {
	if !protocol.IsRequesterID(rs.ID) {
		return fmt.Errorf("requester id %q: must match SPEC §11.1 (INT-… or a member's XX-…), at most %d characters", truncate(rs.ID), protocol.MaxRequesterIDLen)
	}
	if !validText(rs.Name, false) {
		return fmt.Errorf("requester %s: name is required (1…200 bytes of text)", rs.ID)
	}
	if !slices.Contains(requesterOrgTypes, rs.OrganizationType) {
		return fmt.Errorf("requester %s: organizationType %q is not one of %s", rs.ID, truncate(rs.OrganizationType), strings.Join(requesterOrgTypes, ", "))
	}
	if !protocol.IsSHA256Hex(rs.TLSSPKISHA256) {
		return fmt.Errorf("requester %s: tlsSpkiSha256 must be 64 lower-case hex digits", rs.ID)
	}
	if err := checkList("countries", rs.Countries, MaxRequesterCountries, protocol.IsMemberID); err != nil {
		return fmt.Errorf("requester %s: %w", rs.ID, err)
	}
	in := func(set []string) func(string) bool { return func(v string) bool { return slices.Contains(set, v) } }
	if err := checkList("questions", rs.Questions, len(requesterQuestions), in(requesterQuestions)); err != nil {
		return fmt.Errorf("requester %s: %w", rs.ID, err)
	}
	if err := checkList("bases", rs.Bases, len(requesterBases), in(requesterBases)); err != nil {
		return fmt.Errorf("requester %s: %w", rs.ID, err)
	}
	if err := checkList("purposes", rs.Purposes, len(requesterPurposes), in(requesterPurposes)); err != nil {
		return fmt.Errorf("requester %s: %w", rs.ID, err)
	}
	if rs.Rate.PerMinute < 1 || rs.Rate.PerMinute > MaxRatePerMinute || rs.Rate.Burst < 1 || rs.Rate.Burst > MaxRateBurst {
		return fmt.Errorf("requester %s: rate needs 1 ≤ perMinute ≤ %d and 1 ≤ burst ≤ %d", rs.ID, MaxRatePerMinute, MaxRateBurst)
	}
	if len(rs.Keys) == 0 || len(rs.Keys) > MaxRequesterKeys {
		return fmt.Errorf("requester %s: 1…%d keys are needed", rs.ID, MaxRequesterKeys)
	}
	seen := map[string]bool{}
	for _, ks := range rs.Keys {
		k, err := ks.parse(rs.ID)
		if err != nil {
			return fmt.Errorf("requester %s: %w", rs.ID, err)
		}
		if seen[k.Kid] {
			return fmt.Errorf("requester %s: key %s listed twice", rs.ID, k.Kid)
		}
		seen[k.Kid] = true
	}
	return nil
}

// thumbprintOf is the part of a kid after its last ":" (the thumbprint
// characters of SPEC §2's derived kids).
func thumbprintOf(kid string) string {
	if i := strings.LastIndexByte(kid, ':'); i >= 0 {
		return kid[i+1:]
	}
	return kid
}

// requesterKeyOf finds a requester key by kid in the content.
func (c *content) requesterKeyOf(kid string) (RequesterRecord, int, bool) {
	id, _, ok := strings.Cut(kid, ":")
	if !ok {
		return RequesterRecord{}, 0, false
	}
	r, ok := c.Requesters[id]
	if !ok {
		return RequesterRecord{}, 0, false
	}
	i := slices.IndexFunc(r.Keys, func(k RequesterKey) bool { return k.Kid == kid })
	return r, i, i >= 0
}

// kidTaken reports whether kid, or a kid with its thumbprint part, is
// registered anywhere: a member key or a requester key (REGISTRY.md §2.1:
// kids are never reused, one key pair belongs to one party).
func (c *content) kidTaken(kid string) bool {
	if _, ok := c.Keys[kid]; ok {
		return true
	}
	tp := thumbprintOf(kid)
	for k := range c.Keys {
		if thumbprintOf(k) == tp {
			return true
		}
	}
	for _, r := range c.Requesters {
		for _, k := range r.Keys {
			if k.Kid == kid || thumbprintOf(k.Kid) == tp {
				return true
			}
		}
	}
	return false
}

// pinTaken names the node or other requester that holds pin, or "".
func (c *content) pinTaken(pin, exceptRequester string) string {
	for _, n := range c.Nodes {
		if n.TLSSPKISHA256 == pin {
			return "node " + n.ID
		}
	}
	for _, r := range c.Requesters {
		if r.ID != exceptRequester && r.TLSSPKISHA256 == pin {
			return "requester " + r.ID
		}
	}
	return ""
}

// newRequesterKey checks a requester key introduced at t (REGISTRY.md
// §7.1) and returns its record.
func (x *execution) newRequesterKey(ks RequesterKeySpec, requester string) (RequesterKey, *RejectedError) {
	k, err := ks.parse(requester)
	if err != nil {
		return RequesterKey{}, Rejectf(ReasonMalformedCommand, "%v", err)
	}
	pol := x.next.Policy
	switch {
	case !slices.Contains(pol.Algorithms, k.Alg):
		return RequesterKey{}, Rejectf(ReasonInvalidArgument, "key %s: alg %s is not allowed by the policy", k.Kid, k.Alg)
	case ks.NotAfter <= x.t:
		return RequesterKey{}, Rejectf(ReasonInvalidArgument, "key %s: notAfter %s is not after consensus time %s", k.Kid, ks.NotAfter, x.t)
	case pol.MaxKeyLifetimeSeconds > 0 && int64(ks.NotAfter-ks.NotBefore) > pol.MaxKeyLifetimeSeconds:
		return RequesterKey{}, Rejectf(ReasonInvalidArgument, "key %s: lifetime exceeds %ds", k.Kid, pol.MaxKeyLifetimeSeconds)
	}
	if x.next.kidTaken(k.Kid) {
		return RequesterKey{}, Rejectf(ReasonConflict, "key %s (or a key with its thumbprint) is already registered (kids are never reused)", k.Kid)
	}
	jwk, err := canonicalJWK(k)
	if err != nil {
		return RequesterKey{}, Rejectf(ReasonInvalidArgument, "%v", err)
	}
	return RequesterKey{Kid: k.Kid, Alg: k.Alg, JWK: jwk, NotBefore: ks.NotBefore, NotAfter: ks.NotAfter,
		Status: KeyActive, AddedAt: x.t, pub: k}, nil
}

// requesterCommon checks what register and update share: the pin and the
// countries (REGISTRY.md §7.1).
func (x *execution) requesterCommon(rs RequesterSpec) *RejectedError {
	if who := x.next.pinTaken(rs.TLSSPKISHA256, rs.ID); who != "" {
		return Rejectf(ReasonConflict, "TLS key pin belongs to %s", who)
	}
	for _, c := range rs.Countries {
		if m, ok := x.next.Members[c]; !ok || m.Status == StatusWithdrawn {
			return Rejectf(ReasonInvalidArgument, "country %s is not a member of the network", c)
		}
	}
	return nil
}

func (x *execution) putRequester(r RequesterRecord) {
	if x.next.Requesters == nil {
		x.next.Requesters = map[string]RequesterRecord{}
	}
	slices.SortFunc(r.Keys, func(a, b RequesterKey) int { return strings.Compare(a.Kid, b.Kid) })
	x.next.Requesters[r.ID] = r
}

// ---- requester.register

func (a *RequesterRegisterArgs) check(*Command) error  { return a.Requester.check() }
func (a *RequesterRegisterArgs) introduced() []KeySpec { return nil }
func (a *RequesterRegisterArgs) subject(*execution) (string, *RejectedError) {
	return "", nil
}
func (a *RequesterRegisterArgs) execute(x *execution) *RejectedError {
	rs := a.Requester
	if old, exists := x.next.Requesters[rs.ID]; exists {
		return Rejectf(ReasonConflict, "requester %s exists (%s); requester ids are never reused", rs.ID, old.Status)
	}
	if _, exists := x.next.Nodes[rs.ID]; exists {
		return Rejectf(ReasonConflict, "%s is the id of a node", rs.ID)
	}
	// > REGISTRY.md §7.1: an XX-… id: member XX exists (NOT_FOUND) and is
	// > not withdrawn (CONFLICT).
	if prefix, _, _ := strings.Cut(rs.ID, "-"); prefix != "INT" {
		m, rej := x.memberOf(prefix)
		if rej != nil {
			return Rejectf(ReasonNotFound, "requester %s: no member %s", rs.ID, prefix)
		}
		if m.Status == StatusWithdrawn {
			return Rejectf(ReasonConflict, "requester %s: member %s is withdrawn", rs.ID, prefix)
		}
	}
	if rej := x.requesterCommon(rs); rej != nil {
		return rej
	}
	keys := make([]RequesterKey, 0, len(rs.Keys))
	for _, ks := range rs.Keys {
		k, rej := x.newRequesterKey(ks, rs.ID)
		if rej != nil {
			return rej
		}
		keys = append(keys, k)
	}
	x.putRequester(RequesterRecord{ID: rs.ID, Name: rs.Name, OrganizationType: rs.OrganizationType, Keys: keys,
		TLSSPKISHA256: rs.TLSSPKISHA256, Countries: sortedStrings(rs.Countries), Questions: sortedStrings(rs.Questions),
		Bases: sortedStrings(rs.Bases), Purposes: sortedStrings(rs.Purposes), Rate: rs.Rate, Status: StatusActive,
		History: []StatusChange{{Status: StatusActive, Since: x.t}}, RegisteredAt: x.t})
	return nil
}

// ---- requester.update

func (a *RequesterUpdateArgs) check(*Command) error  { return a.Requester.check() }
func (a *RequesterUpdateArgs) introduced() []KeySpec { return nil }
func (a *RequesterUpdateArgs) subject(*execution) (string, *RejectedError) {
	return "", nil
}
func (a *RequesterUpdateArgs) execute(x *execution) *RejectedError {
	rs := a.Requester
	r, ok := x.next.Requesters[rs.ID]
	if !ok {
		return Rejectf(ReasonNotFound, "no requester %s", rs.ID)
	}
	if rej := x.requesterCommon(rs); rej != nil {
		return rej
	}
	old := map[string]RequesterKey{}
	for _, k := range r.Keys {
		old[k.Kid] = k
	}
	listed := map[string]bool{}
	var added []RequesterKey
	for _, ks := range rs.Keys {
		pub, err := ks.parse(rs.ID)
		if err != nil {
			return Rejectf(ReasonMalformedCommand, "%v", err)
		}
		listed[pub.Kid] = true
		if k, ok := old[pub.Kid]; ok {
			// > a listed kid of an active key is kept as it is; of a
			// > retired or revoked key, CONFLICT.
			if k.Status != KeyActive {
				return Rejectf(ReasonConflict, "key %s is %s (kids are never reused)", k.Kid, k.Status)
			}
			if k.NotBefore != ks.NotBefore || k.NotAfter != ks.NotAfter {
				return Rejectf(ReasonInvalidArgument, "key %s: its validity never changes; add a new key instead", k.Kid)
			}
			continue
		}
		k, rej := x.newRequesterKey(ks, rs.ID)
		if rej != nil {
			return rej
		}
		added = append(added, k)
	}
	keys := make([]RequesterKey, 0, len(r.Keys)+len(added))
	for _, k := range r.Keys {
		// > every active key the update does not list becomes retired at t.
		if k.Status == KeyActive && !listed[k.Kid] {
			k.Status, k.RetiredAt = KeyRetired, x.t
		}
		keys = append(keys, k)
	}
	r.Keys = append(keys, added...)
	r.Name, r.OrganizationType, r.TLSSPKISHA256 = rs.Name, rs.OrganizationType, rs.TLSSPKISHA256
	r.Countries, r.Questions, r.Bases = sortedStrings(rs.Countries), sortedStrings(rs.Questions), sortedStrings(rs.Bases)
	r.Purposes = sortedStrings(rs.Purposes)
	r.Rate = rs.Rate
	x.putRequester(r)
	return nil
}

// ---- requester.suspend / reinstate

func (a *RequesterSuspendArgs) check(*Command) error {
	if !protocol.IsRequesterID(a.Requester) || !validText(a.Reason, false) {
		return fmt.Errorf("requester id and reason are required")
	}
	return nil
}
func (a *RequesterSuspendArgs) introduced() []KeySpec { return nil }
func (a *RequesterSuspendArgs) subject(*execution) (string, *RejectedError) {
	return "", nil
}
func (a *RequesterSuspendArgs) execute(x *execution) *RejectedError {
	return x.setRequesterStatus(a.Requester, StatusActive, StatusSuspended)
}

func (a *RequesterReinstateArgs) check(*Command) error {
	if !protocol.IsRequesterID(a.Requester) {
		return fmt.Errorf("requester id is required")
	}
	return nil
}
func (a *RequesterReinstateArgs) introduced() []KeySpec { return nil }
func (a *RequesterReinstateArgs) subject(*execution) (string, *RejectedError) {
	return "", nil
}
func (a *RequesterReinstateArgs) execute(x *execution) *RejectedError {
	return x.setRequesterStatus(a.Requester, StatusSuspended, StatusActive)
}

func (x *execution) setRequesterStatus(id, from, to string) *RejectedError {
	r, ok := x.next.Requesters[id]
	if !ok {
		return Rejectf(ReasonNotFound, "no requester %s", id)
	}
	if r.Status != from {
		return Rejectf(ReasonConflict, "requester %s is %s, not %s", id, r.Status, from)
	}
	r.Status = to
	r.History = append(slices.Clip(r.History), StatusChange{Status: to, Since: x.t})
	x.putRequester(r)
	return nil
}

// ---- key.revoke of a requester key (REGISTRY.md §7.1 "Compromise")

// revokeRequesterKey retires or revokes requester key i of r.
func (x *execution) revokeRequesterKey(r RequesterRecord, i int, a *KeyRevokeArgs) *RejectedError {
	keys := slices.Clone(r.Keys)
	k := keys[i]
	if a.Reason == RevokeRetired {
		if k.Status != KeyActive {
			return Rejectf(ReasonConflict, "key %s is %s", k.Kid, k.Status)
		}
		k.Status, k.RetiredAt = KeyRetired, x.t
	} else {
		if a.CompromisedSince > x.t {
			return Rejectf(ReasonInvalidArgument, "compromisedSince %s is after consensus time %s", a.CompromisedSince, x.t)
		}
		if k.Status == KeyRevoked && k.CompromisedSince <= a.CompromisedSince {
			return Rejectf(ReasonConflict, "key %s is already revoked as compromised since %s", k.Kid, k.CompromisedSince)
		}
		k.Status, k.CompromisedSince, k.RevokedAt = KeyRevoked, a.CompromisedSince, x.t
	}
	keys[i] = k
	r.Keys = keys
	x.putRequester(r)
	return nil
}

// restoreRequesters checks the requesters of a snapshot's content and
// parses their keys (REGISTRY.md §11).
func restoreRequesters(c *content) error {
	if c.Requesters != nil && len(c.Requesters) == 0 {
		return Corruptf("an empty requesters member (it is omitted when empty)")
	}
	pins := map[string]bool{}
	for _, n := range c.Nodes {
		pins[n.TLSSPKISHA256] = true
	}
	for id, r := range c.Requesters {
		if r.ID != id || !protocol.IsRequesterID(id) || len(r.History) == 0 || r.History[len(r.History)-1].Status != r.Status ||
			(r.Status != StatusActive && r.Status != StatusSuspended) || pins[r.TLSSPKISHA256] {
			return Corruptf("requester %q is inconsistent", id)
		}
		pins[r.TLSSPKISHA256] = true
		keys := slices.Clone(r.Keys)
		for i, k := range keys {
			pub, err := jws.ParsePublicJWK(k.JWK)
			if err != nil {
				return Corruptf("requester key %q: %w", k.Kid, err)
			}
			want, err := canonicalJWK(pub)
			if err != nil || !bytes.Equal(want, k.JWK) || pub.Kid != k.Kid || pub.Member != id || pub.Alg != k.Alg {
				return Corruptf("requester key %q does not match its JWK", k.Kid)
			}
			if _, clash := c.Keys[k.Kid]; clash {
				return Corruptf("requester key %q is also a member key", k.Kid)
			}
			keys[i].pub = pub
		}
		r.Keys = keys
		c.Requesters[id] = r
	}
	return nil
}
