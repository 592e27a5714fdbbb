package trust

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// Command types (REGISTRY.md §7).
const (
	CmdMemberAdmit      = "member.admit"
	CmdMemberSuspend    = "member.suspend"
	CmdMemberReinstate  = "member.reinstate"
	CmdMemberWithdraw   = "member.withdraw"
	CmdNodeRegister     = "node.register"
	CmdNodeRemove       = "node.remove"
	CmdNodeSetRole      = "node.set-role"
	CmdKeyAdd           = "key.add"
	CmdKeyRotate        = "key.rotate"
	CmdKeyRetire        = "key.retire"
	CmdKeyRevoke        = "key.revoke"
	CmdCertIssue        = "certificate.issue"
	CmdCertRevoke       = "certificate.revoke"
	CmdSchemaPublish    = "schema.publish"
	CmdPolicyChange     = "policy.change"
	CmdProposalApprove  = "proposal.approve"
	CmdGenesisEndorse   = "genesis.endorse" // genesis endorsements only; never applied
	RevokeRetired       = "retired"
	RevokeCompromised   = "compromised"
	MaxEntrySignatures  = 64      // signatures in one entry (REGISTRY.md §4)
	MaxEntryBytes       = 1 << 20 // bytes of one entry's data (REGISTRY.md §4)
	maxPayloadBytes     = 64 << 10
	maxRejectionRecords = 256
)

type class int

const (
	classSelf class = iota
	classNetwork
	classSelfOrNetwork
)

type commandSpec struct {
	class   class
	newArgs func() commandArgs
}

// commandSpecs lists every applicable command type with its class and args.
var commandSpecs = map[string]commandSpec{
	CmdMemberAdmit:     {classNetwork, func() commandArgs { return new(AdmitArgs) }},
	CmdMemberSuspend:   {classNetwork, func() commandArgs { return new(SuspendArgs) }},
	CmdMemberReinstate: {classNetwork, func() commandArgs { return new(ReinstateArgs) }},
	CmdMemberWithdraw:  {classSelfOrNetwork, func() commandArgs { return new(WithdrawArgs) }},
	CmdNodeRegister:    {classSelf, func() commandArgs { return new(NodeRegisterArgs) }},
	CmdNodeRemove:      {classSelfOrNetwork, func() commandArgs { return new(NodeRemoveArgs) }},
	CmdNodeSetRole:     {classNetwork, func() commandArgs { return new(NodeSetRoleArgs) }},
	CmdKeyAdd:          {classSelfOrNetwork, func() commandArgs { return new(KeyAddArgs) }},
	CmdKeyRotate:       {classSelf, func() commandArgs { return new(KeyRotateArgs) }},
	CmdKeyRetire:       {classSelf, func() commandArgs { return new(KeyRetireArgs) }},
	CmdKeyRevoke:       {classSelfOrNetwork, func() commandArgs { return new(KeyRevokeArgs) }},
	CmdCertIssue:       {classNetwork, func() commandArgs { return new(CertIssueArgs) }},
	CmdCertRevoke:      {classNetwork, func() commandArgs { return new(CertRevokeArgs) }},
	CmdSchemaPublish:   {classNetwork, func() commandArgs { return new(SchemaPublishArgs) }},
	CmdPolicyChange:    {classNetwork, func() commandArgs { return new(PolicyChangeArgs) }},
	CmdProposalApprove: {classSelf, func() commandArgs { return new(ApproveArgs) }},

	CmdRequesterRegister:  {classNetwork, func() commandArgs { return new(RequesterRegisterArgs) }},
	CmdRequesterUpdate:    {classNetwork, func() commandArgs { return new(RequesterUpdateArgs) }},
	CmdRequesterSuspend:   {classNetwork, func() commandArgs { return new(RequesterSuspendArgs) }},
	CmdRequesterReinstate: {classNetwork, func() commandArgs { return new(RequesterReinstateArgs) }},
}

// optionalThresholds are the network types a policy may leave out, with
// the type whose threshold they then use (REGISTRY.md §2, "thresholds"):
// the requester commands, added after the first networks were founded.
var optionalThresholds = map[string]string{
	CmdRequesterRegister:  CmdMemberAdmit,
	CmdRequesterUpdate:    CmdMemberAdmit,
	CmdRequesterReinstate: CmdMemberAdmit,
	CmdRequesterSuspend:   CmdMemberSuspend,
}

// NetworkCommandTypes returns the types that need a threshold (network and
// self-or-network classes), the optional requester types included.
func NetworkCommandTypes() []string {
	var out []string
	for typ, s := range commandSpecs {
		if s.class != classSelf {
			out = append(out, typ)
		}
	}
	return sortedStrings(out)
}

// RequiredThresholdTypes returns the types a policy's thresholds must
// have: NetworkCommandTypes without the optional requester types
// (REGISTRY.md §2). DefaultPolicy sets exactly these.
func RequiredThresholdTypes() []string {
	var out []string
	for _, typ := range NetworkCommandTypes() {
		if _, opt := optionalThresholds[typ]; !opt {
			out = append(out, typ)
		}
	}
	return out
}

// Command is the payload of a crvs-registry-cmd+jws (REGISTRY.md §4).
type Command struct {
	Network  string          `json:"network"`
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	IssuedAt Timestamp       `json:"issuedAt"`
	Member   string          `json:"member"`
	Propose  bool            `json:"propose,omitempty"`
	Args     json.RawMessage `json:"args"`
}

// NewCommand builds a command with args marshalled to JSON.
func NewCommand(network, id, typ string, issuedAt Timestamp, member string, args any) (Command, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return Command{}, fmt.Errorf("registry: args of %s: %w", typ, err)
	}
	return Command{Network: network, ID: id, Type: typ, IssuedAt: issuedAt, Member: member, Args: raw}, nil
}

// Payload returns the command's payload bytes (JCS, so that two tools sign
// the same bytes for the same command; Apply accepts any valid spelling).
func (c Command) Payload() ([]byte, error) {
	if c.Args == nil {
		c.Args = json.RawMessage("{}")
	}
	return canonicalJSON(c)
}

// Sign signs the command with each signer and joins the signatures into
// entry data (REGISTRY.md §4).
func (c Command) Sign(signers ...*jws.Signer) ([]byte, error) {
	p, err := c.Payload()
	if err != nil {
		return nil, err
	}
	return SignPayload(p, signers...)
}

// SignPayload signs payload with each signer, joined by LF.
func SignPayload(payload []byte, signers ...*jws.Signer) ([]byte, error) {
	parts := make([][]byte, 0, len(signers))
	for _, s := range signers {
		tok, err := s.Sign(protocol.TypRegistryCmd, payload)
		if err != nil {
			return nil, err
		}
		parts = append(parts, tok)
	}
	return JoinSignatures(parts...), nil
}

// JoinSignatures joins compact JWS of one payload into entry data.
func JoinSignatures(tokens ...[]byte) []byte { return bytes.Join(tokens, []byte{'\n'}) }

// commandArgs is implemented by every *XxxArgs.
type commandArgs interface {
	// check applies the args' own rules (no state).
	check(c *Command) error
	// introduced lists the keys whose possession the entry must prove.
	introduced() []KeySpec
	// subject returns the member acted on, for self and self-or-network
	// classes ("" for network commands).
	subject(x *execution) (string, *RejectedError)
	// execute checks the preconditions on x.next and applies the change.
	execute(x *execution) *RejectedError
}

// AdmitArgs: member.admit.
type AdmitArgs struct {
	Member string    `json:"member"`
	Name   string    `json:"name"`
	Keys   []KeySpec `json:"keys"`
}

// SuspendArgs: member.suspend.
type SuspendArgs struct {
	Member string `json:"member"`
	Reason string `json:"reason"`
}

// ReinstateArgs: member.reinstate.
type ReinstateArgs struct {
	Member string `json:"member"`
}

// WithdrawArgs: member.withdraw.
type WithdrawArgs struct {
	Member string `json:"member"`
}

// NodeRegisterArgs: node.register.
type NodeRegisterArgs struct {
	Node NodeSpec `json:"node"`
}

// NodeRemoveArgs: node.remove.
type NodeRemoveArgs struct {
	Node string `json:"node"`
}

// NodeSetRoleArgs: node.set-role.
type NodeSetRoleArgs struct {
	Node string `json:"node"`
	Role string `json:"role"`
}

// KeyAddArgs: key.add.
type KeyAddArgs struct {
	Member string  `json:"member"`
	Key    KeySpec `json:"key"`
}

// KeyRotateArgs: key.rotate.
type KeyRotateArgs struct {
	Old string  `json:"old"`
	Key KeySpec `json:"key"`
}

// KeyRetireArgs: key.retire.
type KeyRetireArgs struct {
	Kid string `json:"kid"`
}

// KeyRevokeArgs: key.revoke. CompromisedSince is required iff Reason is
// "compromised".
type KeyRevokeArgs struct {
	Kid              string    `json:"kid"`
	Reason           string    `json:"reason"`
	CompromisedSince Timestamp `json:"compromisedSince,omitempty"`
}

// CertIssueArgs: certificate.issue.
type CertIssueArgs struct {
	ID           string    `json:"id"`
	Subject      string    `json:"subject"`
	Node         string    `json:"node,omitempty"`
	Suite        string    `json:"suite"`
	ReportSHA256 string    `json:"reportSha256"`
	NotBefore    Timestamp `json:"notBefore"`
	NotAfter     Timestamp `json:"notAfter"`
}

// CertRevokeArgs: certificate.revoke.
type CertRevokeArgs struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// SchemaPublishArgs: schema.publish.
type SchemaPublishArgs struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// PolicyChangeArgs: policy.change.
type PolicyChangeArgs struct {
	Policy Policy `json:"policy"`
}

// ApproveArgs: proposal.approve.
type ApproveArgs struct {
	Proposal      string `json:"proposal"`
	PayloadSHA256 string `json:"payloadSha256"`
}

// EndorseArgs: genesis.endorse (empty).
type EndorseArgs struct{}

// parseCommand decodes and checks a payload on its own (REGISTRY.md §5 steps
// 2–4, without the network check). The reason tells which step failed.
func parseCommand(payload []byte) (*Command, *RejectedError) {
	var c Command
	if len(payload) > maxPayloadBytes {
		return nil, Rejectf(ReasonMalformedCommand, "payload of %d bytes exceeds %d", len(payload), maxPayloadBytes)
	}
	if err := DecodeStrict(payload, &c); err != nil {
		return nil, Rejectf(ReasonMalformedCommand, "payload: %v", err)
	}
	switch {
	case !protocol.IsSHA256Hex(c.Network):
		return nil, Rejectf(ReasonMalformedCommand, "network must be the genesis SHA-256 in hex")
	case !isUUID(c.ID):
		return nil, Rejectf(ReasonMalformedCommand, "id %q is not a lower-case UUID", c.ID)
	case c.IssuedAt == 0:
		return nil, Rejectf(ReasonMalformedCommand, "issuedAt is missing")
	case !protocol.IsMemberID(c.Member):
		return nil, Rejectf(ReasonMalformedCommand, "member %q is not a member code", c.Member)
	case c.Type == "":
		return nil, Rejectf(ReasonMalformedCommand, "type is missing")
	case len(c.Args) == 0:
		return nil, Rejectf(ReasonMalformedCommand, "args is missing")
	}
	return &c, nil
}

// parseArgs is step 4: the type is known and its args decode strictly.
func parseArgs(c *Command) (commandArgs, commandSpec, *RejectedError) {
	spec, ok := commandSpecs[c.Type]
	if !ok {
		return nil, spec, Rejectf(ReasonUnknownType, "unknown command type %q", truncate(c.Type))
	}
	args := spec.newArgs()
	if err := DecodeStrict(c.Args, args); err != nil {
		return nil, spec, Rejectf(ReasonMalformedCommand, "args of %s: %v", c.Type, err)
	}
	if c.Propose && spec.class == classSelf {
		return nil, spec, Rejectf(ReasonMalformedCommand, "%s cannot be proposed: it is not a network command", c.Type)
	}
	if err := args.check(c); err != nil {
		return nil, spec, Rejectf(ReasonMalformedCommand, "args of %s: %v", c.Type, err)
	}
	return args, spec, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
