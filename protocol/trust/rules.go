package trust

import (
	"encoding/base64"
	"fmt"
	"slices"

	"github.com/ecrn/crvsx/protocol"
)

// execution is the context of a command's preconditions and effect: the
// state before (prev), the content being built (next, a private clone),
// the consensus time, and who authorized it.
type execution struct {
	prev    *State
	next    *content
	t       Timestamp
	cmd     *Command
	payload []byte
	signers []signer
	via     string   // ViaSelf or ViaNetwork
	addedBy []string // kids recorded on what the command adds

	approveOutcome Outcome
}

// newKey checks a key introduced at t and returns its record.
func (x *execution) newKey(ks KeySpec, member string) (Key, *RejectedError) {
	k, err := ks.parse()
	if err != nil {
		return Key{}, Rejectf(ReasonMalformedCommand, "%v", err)
	}
	pol := x.next.Policy
	switch {
	case k.Member != member:
		return Key{}, Rejectf(ReasonInvalidArgument, "key %s belongs to %s, not %s", k.Kid, k.Member, member)
	case !slices.Contains(pol.Algorithms, k.Alg):
		return Key{}, Rejectf(ReasonInvalidArgument, "key %s: alg %s is not allowed by the policy", k.Kid, k.Alg)
	case ks.NotAfter <= x.t:
		return Key{}, Rejectf(ReasonInvalidArgument, "key %s: notAfter %s is not after consensus time %s", k.Kid, ks.NotAfter, x.t)
	case pol.MaxKeyLifetimeSeconds > 0 && int64(ks.NotAfter-ks.NotBefore) > pol.MaxKeyLifetimeSeconds:
		return Key{}, Rejectf(ReasonInvalidArgument, "key %s: lifetime exceeds %ds", k.Kid, pol.MaxKeyLifetimeSeconds)
	}
	if _, exists := x.next.Keys[k.Kid]; exists {
		return Key{}, Rejectf(ReasonConflict, "key %s is already registered (kids are never reused)", k.Kid)
	}
	jwk, err := canonicalJWK(k)
	if err != nil {
		return Key{}, Rejectf(ReasonInvalidArgument, "%v", err)
	}
	return Key{
		Kid: k.Kid, Member: member, Role: ks.Role, Alg: k.Alg, JWK: jwk,
		NotBefore: ks.NotBefore, NotAfter: ks.NotAfter, Status: KeyActive,
		AddedAt: x.t, AddedVia: x.via, AddedBy: x.addedBy, pub: k,
	}, nil
}

// setStatus appends a status change to a member.
func (x *execution) setStatus(m Member, status string) {
	m.Status = status
	m.History = append(slices.Clip(m.History), StatusChange{Status: status, Since: x.t})
	x.next.Members[m.ID] = m
}

// keepsGovernance refuses a self command that would leave the member
// without a governance key usable at t (REGISTRY.md §7).
func (x *execution) keepsGovernance(member string) *RejectedError {
	if x.via != ViaSelf {
		return nil
	}
	for _, k := range x.next.Keys {
		if k.Member == member && k.Role == RoleGovernance && k.validAt(x.t) == nil {
			return nil
		}
	}
	return Rejectf(ReasonConflict, "member %s would have no usable governance key left; only the network can do that", member)
}

func (x *execution) keyOf(kid string) (Key, *RejectedError) {
	k, ok := x.next.Keys[kid]
	if !ok {
		return Key{}, Rejectf(ReasonNotFound, "no key %s", kid)
	}
	return k, nil
}

func (x *execution) memberOf(id string) (Member, *RejectedError) {
	m, ok := x.next.Members[id]
	if !ok {
		return Member{}, Rejectf(ReasonNotFound, "no member %s", id)
	}
	return m, nil
}

func checkKeySpecs(specs []KeySpec, member string) error {
	seen := map[string]bool{}
	for _, ks := range specs {
		k, err := ks.parse()
		if err != nil {
			return err
		}
		if k.Member != member {
			return fmt.Errorf("key %s belongs to %s, not %s", k.Kid, k.Member, member)
		}
		if seen[k.Kid] {
			return fmt.Errorf("key %s listed twice", k.Kid)
		}
		seen[k.Kid] = true
	}
	return nil
}

// ---- member.admit

func (a *AdmitArgs) check(*Command) error {
	if !protocol.IsMemberID(a.Member) || !validText(a.Name, false) {
		return fmt.Errorf("member %q / name: invalid", a.Member)
	}
	if len(a.Keys) == 0 || len(a.Keys) > 16 {
		return fmt.Errorf("1…16 keys are needed")
	}
	if !slices.ContainsFunc(a.Keys, func(k KeySpec) bool { return k.Role == RoleGovernance }) {
		return fmt.Errorf("a new member needs a governance key")
	}
	return checkKeySpecs(a.Keys, a.Member)
}
func (a *AdmitArgs) introduced() []KeySpec                       { return a.Keys }
func (a *AdmitArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *AdmitArgs) execute(x *execution) *RejectedError {
	if m, exists := x.next.Members[a.Member]; exists {
		return Rejectf(ReasonConflict, "member %s exists (%s); member ids are never reused", a.Member, m.Status)
	}
	if x.next.Policy.AdmissionRequiresCertificate {
		ok := false
		for _, c := range x.next.Certificates {
			if c.Subject == a.Member && c.Status == CertActive && c.NotBefore <= x.t && x.t < c.NotAfter {
				ok = true
			}
		}
		if !ok {
			return Rejectf(ReasonCertificateNeeded, "no active conformance certificate for %s", a.Member)
		}
	}
	keys := make([]Key, 0, len(a.Keys))
	for _, ks := range a.Keys {
		k, rej := x.newKey(ks, a.Member)
		if rej != nil {
			return rej
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		x.next.Keys[k.Kid] = k
	}
	x.next.Members[a.Member] = Member{ID: a.Member, Name: a.Name, Status: StatusActive,
		History: []StatusChange{{Status: StatusActive, Since: x.t}}, AdmittedAt: x.t}
	return nil
}

// ---- member.suspend / reinstate / withdraw

func (a *SuspendArgs) check(*Command) error {
	if !protocol.IsMemberID(a.Member) || !validText(a.Reason, false) {
		return fmt.Errorf("member and reason are required")
	}
	return nil
}
func (a *SuspendArgs) introduced() []KeySpec                       { return nil }
func (a *SuspendArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *SuspendArgs) execute(x *execution) *RejectedError {
	m, rej := x.memberOf(a.Member)
	if rej != nil {
		return rej
	}
	if m.Status != StatusActive {
		return Rejectf(ReasonConflict, "member %s is %s", m.ID, m.Status)
	}
	x.setStatus(m, StatusSuspended)
	return nil
}

func (a *ReinstateArgs) check(*Command) error {
	if !protocol.IsMemberID(a.Member) {
		return fmt.Errorf("member is required")
	}
	return nil
}
func (a *ReinstateArgs) introduced() []KeySpec                       { return nil }
func (a *ReinstateArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *ReinstateArgs) execute(x *execution) *RejectedError {
	m, rej := x.memberOf(a.Member)
	if rej != nil {
		return rej
	}
	if m.Status != StatusSuspended {
		return Rejectf(ReasonConflict, "member %s is %s, not suspended", m.ID, m.Status)
	}
	x.setStatus(m, StatusActive)
	return nil
}

func (a *WithdrawArgs) check(*Command) error {
	if !protocol.IsMemberID(a.Member) {
		return fmt.Errorf("member is required")
	}
	return nil
}
func (a *WithdrawArgs) introduced() []KeySpec { return nil }
func (a *WithdrawArgs) subject(*execution) (string, *RejectedError) {
	return a.Member, nil
}
func (a *WithdrawArgs) execute(x *execution) *RejectedError {
	m, rej := x.memberOf(a.Member)
	if rej != nil {
		return rej
	}
	if m.Status == StatusWithdrawn {
		return Rejectf(ReasonConflict, "member %s is already withdrawn", m.ID)
	}
	x.setStatus(m, StatusWithdrawn)
	for id, n := range x.next.Nodes {
		if n.Member == m.ID {
			delete(x.next.Nodes, id)
		}
	}
	return nil
}

// ---- node.register / remove / set-role

func (a *NodeRegisterArgs) check(c *Command) error { return a.Node.validate(c.Member) }
func (a *NodeRegisterArgs) introduced() []KeySpec  { return nil }
func (a *NodeRegisterArgs) subject(x *execution) (string, *RejectedError) {
	return x.cmd.Member, nil // the id's prefix is the issuer (checked)
}
func (a *NodeRegisterArgs) execute(x *execution) *RejectedError {
	ns := a.Node
	for _, n := range x.next.Nodes {
		if n.ID == ns.ID {
			continue
		}
		if n.RaftAddress == ns.RaftAddress {
			return Rejectf(ReasonConflict, "raft address %s belongs to node %s", ns.RaftAddress, n.ID)
		}
		if n.TLSSPKISHA256 == ns.TLSSPKISHA256 {
			return Rejectf(ReasonConflict, "TLS key pin belongs to node %s", n.ID)
		}
	}
	// > REGISTRY.md §7.1: a node may not take a requester's id or pin.
	for _, r := range x.next.Requesters {
		if r.ID == ns.ID || r.TLSSPKISHA256 == ns.TLSSPKISHA256 {
			return Rejectf(ReasonConflict, "id or TLS key pin belongs to requester %s", r.ID)
		}
	}
	role := RoleNonvoter
	if old, ok := x.next.Nodes[ns.ID]; ok {
		role = old.Role
	}
	x.next.Nodes[ns.ID] = Node{ID: ns.ID, Member: x.cmd.Member, RaftAddress: ns.RaftAddress, APIURL: ns.APIURL,
		TLSSPKISHA256: ns.TLSSPKISHA256, DesiredRole: ns.DesiredRole, Role: role,
		RegisteredAt: x.t, AddedVia: x.via, AddedBy: x.addedBy}
	return nil
}

func (a *NodeRemoveArgs) check(*Command) error {
	if !protocol.IsMemberNodeID(a.Node) {
		return fmt.Errorf("node id %q is invalid", a.Node)
	}
	return nil
}
func (a *NodeRemoveArgs) introduced() []KeySpec { return nil }
func (a *NodeRemoveArgs) subject(x *execution) (string, *RejectedError) {
	n, ok := x.next.Nodes[a.Node]
	if !ok {
		return "", Rejectf(ReasonNotFound, "no node %s", a.Node)
	}
	return n.Member, nil
}
func (a *NodeRemoveArgs) execute(x *execution) *RejectedError {
	if _, ok := x.next.Nodes[a.Node]; !ok {
		return Rejectf(ReasonNotFound, "no node %s", a.Node)
	}
	delete(x.next.Nodes, a.Node)
	return nil
}

func (a *NodeSetRoleArgs) check(*Command) error {
	if !protocol.IsMemberNodeID(a.Node) || (a.Role != RoleVoter && a.Role != RoleNonvoter) {
		return fmt.Errorf("node id and role (voter or nonvoter) are required")
	}
	return nil
}
func (a *NodeSetRoleArgs) introduced() []KeySpec                       { return nil }
func (a *NodeSetRoleArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *NodeSetRoleArgs) execute(x *execution) *RejectedError {
	n, ok := x.next.Nodes[a.Node]
	if !ok {
		return Rejectf(ReasonNotFound, "no node %s", a.Node)
	}
	if n.Role == a.Role {
		return Rejectf(ReasonConflict, "node %s is already a %s", n.ID, n.Role)
	}
	if a.Role == RoleVoter && x.next.Members[n.Member].Status != StatusActive {
		return Rejectf(ReasonConflict, "member %s of node %s is not active", n.Member, n.ID)
	}
	n.Role = a.Role
	x.next.Nodes[n.ID] = n
	return nil
}

// ---- key.add / rotate / retire / revoke

func (a *KeyAddArgs) check(*Command) error {
	if !protocol.IsMemberID(a.Member) {
		return fmt.Errorf("member is required")
	}
	return checkKeySpecs([]KeySpec{a.Key}, a.Member)
}
func (a *KeyAddArgs) introduced() []KeySpec { return []KeySpec{a.Key} }
func (a *KeyAddArgs) subject(*execution) (string, *RejectedError) {
	return a.Member, nil
}
func (a *KeyAddArgs) execute(x *execution) *RejectedError {
	m, rej := x.memberOf(a.Member)
	if rej != nil {
		return rej
	}
	if m.Status == StatusWithdrawn {
		return Rejectf(ReasonConflict, "member %s is withdrawn", m.ID)
	}
	k, rej := x.newKey(a.Key, a.Member)
	if rej != nil {
		return rej
	}
	x.next.Keys[k.Kid] = k
	return nil
}

func (a *KeyRotateArgs) check(c *Command) error {
	if a.Old == "" {
		return fmt.Errorf("old kid is required")
	}
	return checkKeySpecs([]KeySpec{a.Key}, c.Member)
}
func (a *KeyRotateArgs) introduced() []KeySpec { return []KeySpec{a.Key} }
func (a *KeyRotateArgs) subject(x *execution) (string, *RejectedError) {
	k, rej := x.keyOf(a.Old)
	return k.Member, rej
}
func (a *KeyRotateArgs) execute(x *execution) *RejectedError {
	old, rej := x.keyOf(a.Old)
	if rej != nil {
		return rej
	}
	if old.Status != KeyActive || old.validAt(x.t) != nil {
		return Rejectf(ReasonConflict, "key %s is not an active, valid key", old.Kid)
	}
	if a.Key.Role != old.Role {
		return Rejectf(ReasonInvalidArgument, "a %s key rotates to a %s key, not %s", old.Role, old.Role, a.Key.Role)
	}
	k, rej := x.newKey(a.Key, old.Member)
	if rej != nil {
		return rej
	}
	x.next.Keys[k.Kid] = k
	old.Status, old.RetiredAt = KeyRetired, x.t
	x.next.Keys[old.Kid] = old
	return x.keepsGovernance(old.Member)
}

func (a *KeyRetireArgs) check(*Command) error {
	if a.Kid == "" {
		return fmt.Errorf("kid is required")
	}
	return nil
}
func (a *KeyRetireArgs) introduced() []KeySpec { return nil }
func (a *KeyRetireArgs) subject(x *execution) (string, *RejectedError) {
	k, rej := x.keyOf(a.Kid)
	return k.Member, rej
}
func (a *KeyRetireArgs) execute(x *execution) *RejectedError {
	return x.retire(a.Kid)
}

func (x *execution) retire(kid string) *RejectedError {
	k, rej := x.keyOf(kid)
	if rej != nil {
		return rej
	}
	if k.Status != KeyActive {
		return Rejectf(ReasonConflict, "key %s is %s", k.Kid, k.Status)
	}
	k.Status, k.RetiredAt = KeyRetired, x.t
	x.next.Keys[k.Kid] = k
	return x.keepsGovernance(k.Member)
}

func (a *KeyRevokeArgs) check(*Command) error {
	switch {
	case a.Kid == "":
		return fmt.Errorf("kid is required")
	case a.Reason == RevokeRetired && a.CompromisedSince == 0:
	case a.Reason == RevokeCompromised && a.CompromisedSince != 0:
	default:
		return fmt.Errorf("reason must be %q, or %q with compromisedSince", RevokeRetired, RevokeCompromised)
	}
	return nil
}
func (a *KeyRevokeArgs) introduced() []KeySpec { return nil }
func (a *KeyRevokeArgs) subject(x *execution) (string, *RejectedError) {
	// > REGISTRY.md §7.1: key.revoke applies to requester keys too; the
	// > subject is then the requester, never the issuing member, so the
	// > network decides.
	if r, _, ok := x.next.requesterKeyOf(a.Kid); ok {
		return r.ID, nil
	}
	k, rej := x.keyOf(a.Kid)
	return k.Member, rej
}
func (a *KeyRevokeArgs) execute(x *execution) *RejectedError {
	if r, i, ok := x.next.requesterKeyOf(a.Kid); ok {
		return x.revokeRequesterKey(r, i, a)
	}
	if a.Reason == RevokeRetired {
		return x.retire(a.Kid)
	}
	k, rej := x.keyOf(a.Kid)
	if rej != nil {
		return rej
	}
	if a.CompromisedSince > x.t {
		return Rejectf(ReasonInvalidArgument, "compromisedSince %s is after consensus time %s", a.CompromisedSince, x.t)
	}
	if k.Status == KeyRevoked && k.CompromisedSince <= a.CompromisedSince {
		return Rejectf(ReasonConflict, "key %s is already revoked as compromised since %s", k.Kid, k.CompromisedSince)
	}
	x.revoke(k, a.CompromisedSince)
	return x.keepsGovernance(k.Member)
}

// revoke marks k compromised since T and cascades (REGISTRY.md §7): what a
// self command signed by k added at or after T is revoked or removed,
// transitively.
func (x *execution) revoke(k Key, since Timestamp) {
	type item struct {
		kid   string
		since Timestamp
	}
	k.Status, k.CompromisedSince, k.RevokedAt = KeyRevoked, since, x.t
	x.next.Keys[k.Kid] = k
	queue := []item{{k.Kid, since}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		for _, kid := range sortedKeys(x.next.Keys) {
			c := x.next.Keys[kid]
			if c.AddedVia != ViaSelf || !slices.Contains(c.AddedBy, it.kid) || c.AddedAt < it.since {
				continue
			}
			if c.Status == KeyRevoked && c.CompromisedSince <= c.NotBefore {
				continue // already never valid
			}
			c.Status, c.CompromisedSince, c.RevokedAt = KeyRevoked, c.NotBefore, x.t
			x.next.Keys[kid] = c
			queue = append(queue, item{kid, c.NotBefore})
		}
		for _, id := range sortedKeys(x.next.Nodes) {
			n := x.next.Nodes[id]
			if n.AddedVia == ViaSelf && slices.Contains(n.AddedBy, it.kid) && n.RegisteredAt >= it.since {
				delete(x.next.Nodes, id)
			}
		}
	}
}

// ---- certificates, schemas, policy

func (a *CertIssueArgs) check(*Command) error {
	switch {
	case !certIDRe.MatchString(a.ID):
		return fmt.Errorf("certificate id %q is invalid", a.ID)
	case !protocol.IsMemberID(a.Subject):
		return fmt.Errorf("subject %q is not a member code", a.Subject)
	case a.Node != "" && (!protocol.IsMemberNodeID(a.Node) || a.Node[:2] != a.Subject):
		return fmt.Errorf("node %q is not a node id of %s", a.Node, a.Subject)
	case !validText(a.Suite, false) || !protocol.IsSHA256Hex(a.ReportSHA256):
		return fmt.Errorf("suite and reportSha256 are required")
	case a.NotBefore == 0 || a.NotBefore >= a.NotAfter:
		return fmt.Errorf("notBefore must be before notAfter")
	}
	return nil
}
func (a *CertIssueArgs) introduced() []KeySpec                       { return nil }
func (a *CertIssueArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *CertIssueArgs) execute(x *execution) *RejectedError {
	if _, exists := x.next.Certificates[a.ID]; exists {
		return Rejectf(ReasonConflict, "certificate %s exists", a.ID)
	}
	x.next.Certificates[a.ID] = Certificate{ID: a.ID, Subject: a.Subject, Node: a.Node, Suite: a.Suite,
		ReportSHA256: a.ReportSHA256, NotBefore: a.NotBefore, NotAfter: a.NotAfter, Status: CertActive, IssuedAt: x.t}
	return nil
}

func (a *CertRevokeArgs) check(*Command) error {
	if !certIDRe.MatchString(a.ID) || !validText(a.Reason, false) {
		return fmt.Errorf("certificate id and reason are required")
	}
	return nil
}
func (a *CertRevokeArgs) introduced() []KeySpec                       { return nil }
func (a *CertRevokeArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *CertRevokeArgs) execute(x *execution) *RejectedError {
	c, ok := x.next.Certificates[a.ID]
	if !ok {
		return Rejectf(ReasonNotFound, "no certificate %s", a.ID)
	}
	if c.Status != CertActive {
		return Rejectf(ReasonConflict, "certificate %s is %s", a.ID, c.Status)
	}
	c.Status, c.RevokedAt, c.Reason = CertRevoked, x.t, a.Reason
	x.next.Certificates[a.ID] = c
	return nil
}

func (a *SchemaPublishArgs) check(*Command) error {
	if !semverRe.MatchString(a.Version) || !protocol.IsSHA256Hex(a.SHA256) {
		return fmt.Errorf("version (MAJOR.MINOR.PATCH) and sha256 are required")
	}
	return nil
}
func (a *SchemaPublishArgs) introduced() []KeySpec                       { return nil }
func (a *SchemaPublishArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *SchemaPublishArgs) execute(x *execution) *RejectedError {
	if _, exists := x.next.Schemas[a.Version]; exists {
		return Rejectf(ReasonConflict, "schema bundle %s is published", a.Version)
	}
	x.next.Schemas[a.Version] = SchemaBundle{Version: a.Version, SHA256: a.SHA256, PublishedAt: x.t}
	return nil
}

func (a *PolicyChangeArgs) check(*Command) error                        { return nil }
func (a *PolicyChangeArgs) introduced() []KeySpec                       { return nil }
func (a *PolicyChangeArgs) subject(*execution) (string, *RejectedError) { return "", nil }
func (a *PolicyChangeArgs) execute(x *execution) *RejectedError {
	if err := a.Policy.Validate(); err != nil {
		return Rejectf(ReasonInvalidArgument, "%v", err)
	}
	x.next.Policy = a.Policy
	return nil
}

// ---- proposal.approve

func (a *ApproveArgs) check(*Command) error {
	if !isUUID(a.Proposal) || !protocol.IsSHA256Hex(a.PayloadSHA256) {
		return fmt.Errorf("proposal id and payloadSha256 are required")
	}
	return nil
}
func (a *ApproveArgs) introduced() []KeySpec { return nil }
func (a *ApproveArgs) subject(x *execution) (string, *RejectedError) {
	return x.cmd.Member, nil
}

// execute is REGISTRY.md §6: record the approvals, recount against the
// current state, and execute the proposal once the threshold is reached.
func (a *ApproveArgs) execute(x *execution) *RejectedError {
	p, ok := x.next.Proposals[a.Proposal]
	if !ok {
		return Rejectf(ReasonProposalUnknown, "no open proposal %s", a.Proposal)
	}
	if x.t >= p.ExpiresAt {
		return Rejectf(ReasonProposalExpired, "proposal %s expired at %s", p.ID, p.ExpiresAt)
	}
	if a.PayloadSHA256 != p.PayloadSHA256 {
		return Rejectf(ReasonDigestMismatch, "proposal %s has payload digest %s", p.ID, p.PayloadSHA256)
	}
	// > an approval counts only if its member is active at t and its key
	// > is valid at the approval's own time under what is known now.
	counts := func(ap Approval) bool {
		k, ok := x.next.Keys[ap.Kid]
		return ok && x.next.Members[ap.Member].Status == StatusActive && k.validAt(ap.At) == nil
	}
	approvals := slices.Clone(p.Approvals)
	added := false
	for _, sg := range x.signers {
		fresh := Approval{Member: sg.member, Kid: sg.kid, At: x.t}
		i := slices.IndexFunc(approvals, func(ap Approval) bool { return ap.Member == sg.member })
		switch {
		case i < 0:
			approvals = append(approvals, fresh)
		case !counts(approvals[i]):
			// An approval that no longer counts (its key was revoked as
			// compromised) is replaced by the member's new one.
			approvals[i] = fresh
		default:
			continue
		}
		added = true
	}
	if !added {
		return Rejectf(ReasonAlreadyApproved, "every signer already approved proposal %s", p.ID)
	}
	p.Approvals = approvals
	var counted []string
	for _, ap := range approvals {
		if counts(ap) {
			counted = append(counted, ap.Kid)
		}
	}
	th, _ := x.next.Policy.Threshold(p.Type)
	need := th.Required(x.next.activeMembers())
	if len(counted) < need {
		x.next.Proposals[p.ID] = p
		x.approveOutcome = OutcomeApproved
		return nil
	}

	payload, err := base64.RawURLEncoding.DecodeString(p.Payload)
	if err != nil {
		return Rejectf(ReasonMalformedCommand, "stored proposal payload: %v", err)
	}
	cmd, rej := parseCommand(payload)
	if rej != nil {
		return rej
	}
	args, _, rej := parseArgs(cmd)
	if rej != nil {
		return rej
	}
	sub := &execution{prev: x.prev, next: x.next, t: x.t, cmd: cmd, payload: payload,
		via: ViaNetwork, addedBy: sortedStrings(counted)}
	if rej := args.execute(sub); rej != nil {
		return rej
	}
	delete(x.next.Proposals, p.ID)
	x.approveOutcome = OutcomeAccepted
	return nil
}
