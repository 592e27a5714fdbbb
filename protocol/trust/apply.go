package trust

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// Entry is one Raft log entry as the FSM sees it (REGISTRY.md §4): its index,
// the leader's time stamp, and the command data (one or more compact JWS
// over one payload, separated by LF).
type Entry struct {
	Index uint64
	Time  Timestamp
	Data  []byte
}

// Outcome of an applied entry.
type Outcome string

// Outcomes (REGISTRY.md §5).
const (
	OutcomeAccepted Outcome = "accepted" // took effect (directly or by executing a proposal)
	OutcomeProposed Outcome = "proposed" // stored as a proposal
	OutcomeApproved Outcome = "approved" // approval recorded, threshold not reached
	OutcomeRejected Outcome = "rejected" // no content change
)

// Result says what Apply did with an entry.
type Result struct {
	Index       uint64
	Time        Timestamp // consensus time after the entry
	EntrySHA256 string
	CommandID   string // "" if the payload did not decode
	Type        string
	Issuer      string
	Outcome     Outcome
	Reason      Reason // set iff Outcome is rejected
	Detail      string // for humans; never hashed
	Proposal    string // the proposal created, approved or executed
	StateHash   string
	ChainHead   string
}

// Err returns a *RejectedError for a rejected entry, or nil.
func (r Result) Err() error {
	if r.Outcome != OutcomeRejected {
		return nil
	}
	return &RejectedError{Reason: r.Reason, Detail: r.Detail}
}

// chainRecord is hashed into the chain (REGISTRY.md §8).
type chainRecord struct {
	EntrySHA256 string    `json:"entrySha256"`
	ID          string    `json:"id,omitempty"`
	Index       uint64    `json:"index"`
	Outcome     Outcome   `json:"outcome"`
	Reason      Reason    `json:"reason,omitempty"`
	StateHash   string    `json:"stateHash"`
	Time        Timestamp `json:"time"`
	Type        string    `json:"type,omitempty"`
}

// Apply applies one entry to s and returns the new state and what happened
// (REGISTRY.md §5). It is deterministic: it reads nothing but s and e — no
// clock, no I/O, no randomness — and verifies every signature with the keys
// of s. s is not modified.
//
// A rejected command is a normal result (Outcome rejected, Reason set): the
// content, and so Hash, is unchanged; the journal records it. The only
// error is ErrIndexOrder, for an entry whose index is not above the applied
// index; then s is returned as it is and the caller must not persist
// anything.
func Apply(s *State, e Entry) (*State, Result, error) {
	if e.Index <= s.appliedIndex {
		return s, Result{}, fmt.Errorf("%w: index %d after applied index %d", ErrIndexOrder, e.Index, s.appliedIndex)
	}
	if e.Index > 1<<53-1 {
		return s, Result{}, fmt.Errorf("%w: index %d exceeds 2^53-1", ErrIndexOrder, e.Index)
	}
	r := run{prev: s, e: e, t: s.consensusTime}
	r.evaluate()
	return r.finish()
}

// run is the evaluation of one entry.
type run struct {
	prev *State
	e    Entry

	cmd           *Command
	payload       []byte
	authenticated bool
	t             Timestamp // consensus time of this entry

	next     *content // nil: content unchanged
	outcome  Outcome
	proposal string
	rej      *RejectedError
}

// signer is one verified authorizing signature.
type signer struct {
	kid, member string
}

func (r *run) evaluate() {
	next, outcome, rej := r.steps()
	if rej != nil {
		r.outcome, r.rej, r.next = OutcomeRejected, rej, nil
		return
	}
	// > REGISTRY.md §5: after any outcome other than rejected, proposals with
	// > expiresAt ≤ t are removed.
	for id, p := range next.Proposals {
		if p.ExpiresAt <= r.t {
			delete(next.Proposals, id)
		}
	}
	r.outcome, r.next = outcome, next
}

func (r *run) steps() (*content, Outcome, *RejectedError) {
	s := r.prev

	// > 1. Structure: data splits into 1…64 compact JWS, each with three
	// > segments, payload segments identical.
	if len(r.e.Data) == 0 || len(r.e.Data) > MaxEntryBytes {
		return nil, "", Rejectf(ReasonMalformedEntry, "entry data of %d bytes (1…%d)", len(r.e.Data), MaxEntryBytes)
	}
	tokens := bytes.Split(r.e.Data, []byte{'\n'})
	if len(tokens) > MaxEntrySignatures {
		return nil, "", Rejectf(ReasonMalformedEntry, "%d signatures, more than %d", len(tokens), MaxEntrySignatures)
	}
	var pseg []byte
	for i, tok := range tokens {
		parts := bytes.Split(tok, []byte{'.'})
		if len(parts) != 3 {
			return nil, "", Rejectf(ReasonMalformedEntry, "signature %d is not a compact JWS", i)
		}
		if i == 0 {
			pseg = parts[1]
		} else if !bytes.Equal(parts[1], pseg) {
			return nil, "", Rejectf(ReasonMalformedEntry, "signature %d is over another payload", i)
		}
	}

	// > 2. Payload: base64url (canonical), I-JSON, envelope schema.
	payload, err := base64.RawURLEncoding.Strict().DecodeString(string(pseg))
	if err != nil || base64.RawURLEncoding.EncodeToString(payload) != string(pseg) {
		return nil, "", Rejectf(ReasonMalformedCommand, "payload is not canonical base64url")
	}
	cmd, rej := parseCommand(payload)
	if rej != nil {
		return nil, "", rej
	}
	r.cmd, r.payload = cmd, payload

	// > 3. network = genesis hash.
	if cmd.Network != s.genesisHash {
		return nil, "", Rejectf(ReasonWrongNetwork, "command for network %s", cmd.Network)
	}

	// > 4. type known, args decode strictly.
	args, spec, rej := parseArgs(cmd)
	if rej != nil {
		return nil, "", rej
	}

	// > 5. Signatures: every JWS verifies through jws.Verify against the
	// > state's keys plus the keys the args introduce.
	intro := map[string]jws.Key{}
	for _, ks := range args.introduced() {
		k, err := ks.parse()
		if err != nil { // checked in parseArgs; defensive
			return nil, "", Rejectf(ReasonMalformedCommand, "%v", err)
		}
		if _, exists := s.c.Keys[k.Kid]; exists {
			return nil, "", Rejectf(ReasonConflict, "key %s is already registered (kids are never reused)", k.Kid)
		}
		intro[k.Kid] = k
	}
	lookup := keyLookup{keys: s.c.Keys, intro: intro}
	var signers []signer
	pop := map[string]bool{}
	seen := map[string]bool{}
	for i, tok := range tokens {
		v, err := jws.Verify(tok, lookup, jws.Options{Typ: protocol.TypRegistryCmd})
		if err != nil {
			if protocol.CodeOf(err) == protocol.CodeKeyUnknown {
				return nil, "", Rejectf(ReasonUnknownKey, "signature %d: %v", i, err)
			}
			return nil, "", Rejectf(ReasonBadSignature, "signature %d: %v", i, err)
		}
		if seen[v.Kid] {
			return nil, "", Rejectf(ReasonMalformedEntry, "key %s signed twice", v.Kid)
		}
		seen[v.Kid] = true
		if _, ok := intro[v.Kid]; ok {
			pop[v.Kid] = true
		} else {
			signers = append(signers, signer{kid: v.Kid, member: v.Key.Member})
		}
	}
	r.authenticated = true
	pol := s.c.Policy

	// > 6. t = max(state.consensusTime, min(entry.time, issuedAt + skew)).
	r.t = max(s.consensusTime, min(r.e.Time, addSeconds(cmd.IssuedAt, pol.ClockSkewSeconds)))
	t := r.t

	// > 7. Replay.
	if idx, used := s.usedIDs[cmd.ID]; used {
		return nil, "", Rejectf(ReasonReplayedID, "command id %s was used by entry %d", cmd.ID, idx)
	}

	// > 8. Freshness.
	if cmd.IssuedAt > addSeconds(t, pol.ClockSkewSeconds) {
		return nil, "", Rejectf(ReasonFromFuture, "issuedAt %s is more than %ds after consensus time %s", cmd.IssuedAt, pol.ClockSkewSeconds, t)
	}
	if cmd.IssuedAt < addSeconds(t, -pol.MaxCommandAgeSeconds-pol.ClockSkewSeconds) {
		return nil, "", Rejectf(ReasonTooOld, "issuedAt %s is older than %ds at consensus time %s", cmd.IssuedAt, pol.MaxCommandAgeSeconds, t)
	}

	// > 9. Signers: governance role, alg allowed, key valid at t, member
	// > active at t; the issuer signed.
	issuerSigned := false
	for _, sg := range signers {
		k := s.c.Keys[sg.kid]
		if k.Role != RoleGovernance {
			return nil, "", Rejectf(ReasonKeyNotGovernance, "key %s is a %s key", k.Kid, k.Role)
		}
		if !slices.Contains(pol.Algorithms, k.Alg) {
			return nil, "", Rejectf(ReasonAlgNotAllowed, "key %s: alg %s is not allowed by the policy", k.Kid, k.Alg)
		}
		if err := k.validAt(t); err != nil {
			return nil, "", Rejectf(ReasonKeyNotValid, "%v at %s", err, t)
		}
		if m := s.c.Members[k.Member]; m.Status != StatusActive {
			return nil, "", Rejectf(ReasonSignerNotActive, "member %s is %s", k.Member, m.Status)
		}
		if k.Member == cmd.Member {
			issuerSigned = true
		}
	}
	if !issuerSigned {
		return nil, "", Rejectf(ReasonIssuerNotSigner, "no signature by a governance key of the issuer %s", cmd.Member)
	}

	// > 10. Proof of possession: every introduced key signed.
	for _, kid := range sortedKeys(intro) {
		if !pop[kid] {
			return nil, "", Rejectf(ReasonMissingPoP, "the new key %s did not sign the command", kid)
		}
	}

	// > 11. Authorization and threshold; 12. execution.
	x := &execution{prev: s, next: s.c.clone(), t: t, cmd: cmd, payload: payload, signers: signers}
	subject, rej := args.subject(x)
	if rej != nil {
		return nil, "", rej
	}
	onlyIssuer := true
	for _, sg := range signers {
		if sg.member != cmd.Member {
			onlyIssuer = false
		}
	}
	self := spec.class == classSelf || (spec.class == classSelfOrNetwork && subject == cmd.Member && onlyIssuer)
	// proposal.approve is the one self command several members may sign
	// together: each signer approves for itself.
	if spec.class == classSelf && (subject != cmd.Member || (!onlyIssuer && cmd.Type != CmdProposalApprove)) {
		return nil, "", Rejectf(ReasonNotAuthorized, "%s acts on member %s's own objects only, signed by %s alone", cmd.Type, subject, subject)
	}
	if self {
		x.via, x.addedBy = ViaSelf, kidsOf(signers)
		if rej := args.execute(x); rej != nil {
			return nil, "", rej
		}
		if cmd.Type == CmdProposalApprove {
			r.proposal = args.(*ApproveArgs).Proposal
			return x.next, x.approveOutcome, nil
		}
		return x.next, OutcomeAccepted, nil
	}

	// Network path: distinct approving members.
	members := distinctMembers(signers)
	th, _ := pol.Threshold(cmd.Type)
	need := th.Required(s.c.activeMembers())
	x.via, x.addedBy = ViaNetwork, kidsOf(signers)
	if len(members) >= need {
		if rej := args.execute(x); rej != nil {
			return nil, "", rej
		}
		return x.next, OutcomeAccepted, nil
	}
	if !cmd.Propose {
		return nil, "", Rejectf(ReasonBelowThreshold, "%s needs %d approving members, the entry has %d", cmd.Type, need, len(members))
	}
	// > REGISTRY.md §6: a proposal passes the execution preconditions first.
	if rej := args.execute(x); rej != nil {
		return nil, "", rej
	}
	next := s.c.clone()
	var approvals []Approval
	for _, sg := range signers {
		if !slices.ContainsFunc(approvals, func(a Approval) bool { return a.Member == sg.member }) {
			approvals = append(approvals, Approval{Member: sg.member, Kid: sg.kid, At: t})
		}
	}
	next.Proposals[cmd.ID] = Proposal{
		ID: cmd.ID, Type: cmd.Type, Issuer: cmd.Member,
		Payload:       base64.RawURLEncoding.EncodeToString(payload),
		PayloadSHA256: sum(payload),
		CreatedAt:     t,
		ExpiresAt:     addSeconds(t, pol.ProposalLifetimeSeconds),
		Approvals:     approvals,
	}
	r.proposal = cmd.ID
	return next, OutcomeProposed, nil
}

func kidsOf(signers []signer) []string {
	out := make([]string, 0, len(signers))
	for _, s := range signers {
		out = append(out, s.kid)
	}
	return sortedStrings(out)
}

func distinctMembers(signers []signer) map[string]bool {
	m := map[string]bool{}
	for _, s := range signers {
		m[s.member] = true
	}
	return m
}

// finish builds the next state: the journal always advances; the content
// only if the command was not rejected.
func (r *run) finish() (*State, Result, error) {
	s := r.prev
	ns := &State{
		genesisHash:   s.genesisHash,
		appliedIndex:  r.e.Index,
		consensusTime: s.consensusTime,
		c:             s.c,
		contentHash:   s.contentHash,
		usedIDs:       s.usedIDs,
		rejections:    s.rejections,
	}
	res := Result{Index: r.e.Index, EntrySHA256: sum(r.e.Data), Outcome: r.outcome, Proposal: r.proposal}
	if r.cmd != nil {
		res.CommandID, res.Type, res.Issuer = r.cmd.ID, r.cmd.Type, r.cmd.Member
	}
	if r.authenticated {
		// > REGISTRY.md §5: an authenticated command burns its id and moves
		// > time, whatever the outcome.
		ns.consensusTime = r.t
		if _, used := s.usedIDs[r.cmd.ID]; !used {
			ns.usedIDs = maps.Clone(s.usedIDs)
			ns.usedIDs[r.cmd.ID] = r.e.Index
		}
	}
	if r.next != nil {
		h, err := r.next.hash()
		if err != nil {
			// Cannot happen for a content built by Apply; refuse the
			// change rather than persist something unhashable.
			r.next, r.outcome = nil, OutcomeRejected
			r.rej = Rejectf(ReasonInvalidArgument, "%v", err)
			res.Outcome = OutcomeRejected
		} else {
			ns.c, ns.contentHash = r.next, h
		}
	}
	if r.rej != nil {
		res.Reason, res.Detail = r.rej.Reason, r.rej.Detail
		rec := RejectionRecord{Index: r.e.Index, Time: ns.consensusTime, EntrySHA256: res.EntrySHA256, ID: res.CommandID, Type: res.Type, Issuer: res.Issuer, Reason: r.rej.Reason}
		if !r.authenticated {
			// Unauthenticated text is not attributed to anyone.
			rec.ID, rec.Type, rec.Issuer = "", "", ""
			res.CommandID, res.Type, res.Issuer = "", "", ""
		}
		keep := s.rejections
		if len(keep) >= maxRejectionRecords {
			keep = keep[len(keep)-maxRejectionRecords+1:]
		}
		ns.rejections = append(slices.Clip(keep), rec)
	}
	res.Time = ns.consensusTime
	res.StateHash = ns.Hash()
	rec := chainRecord{EntrySHA256: res.EntrySHA256, ID: res.CommandID, Index: res.Index, Outcome: res.Outcome, Reason: res.Reason, StateHash: res.StateHash, Time: res.Time, Type: res.Type}
	b, err := canonicalJSON(rec)
	if err != nil {
		return s, Result{}, fmt.Errorf("registry: encode chain record: %w", err)
	}
	h := sha256.New()
	h.Write(s.chainHead[:])
	h.Write(b)
	copy(ns.chainHead[:], h.Sum(nil))
	res.ChainHead = hex.EncodeToString(ns.chainHead[:])
	return ns, res, nil
}
