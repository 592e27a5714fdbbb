package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

// commandFlags build one command: its type and args, signed by the
// governance key(s).
type commandFlags struct {
	typ, args string
	keys      []string
	out       string
}

func (f *commandFlags) register(cmd *cobra.Command, withType bool) {
	if withType {
		cmd.Flags().StringVar(&f.typ, "type", "", "the command type, e.g. member.suspend (protocol/REGISTRY.md §7)")
		cmd.Flags().StringVar(&f.args, "args", "", "the command's args as JSON, or @FILE")
	}
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "governance private JWK; the first is the issuer (repeat for co-signing keys held here)")
	cmd.Flags().StringVar(&f.out, "out", "", "write the signed command here instead of submitting it (to cosign or submit later)")
}

// session is a connected command: the API client, the network and its
// signers.
type session struct {
	e       *env
	ctx     context.Context
	c       *registry.APIClient
	network string
	policy  registry.APIPolicy
	signers []*jws.Signer
	asJSON  bool
}

func (f *commandFlags) open(cmd *cobra.Command, e *env, nf *nodeFlags) (*session, error) {
	if len(f.keys) == 0 {
		return nil, fmt.Errorf("--key GOVERNANCE.jwk is required")
	}
	s := &session{e: e, ctx: cmd.Context(), asJSON: nf.asJSON}
	for _, k := range f.keys {
		sg, err := e.readSigner(k)
		if err != nil {
			return nil, err
		}
		s.signers = append(s.signers, sg)
	}
	c, err := nf.client()
	if err != nil {
		return nil, err
	}
	s.c = c
	pol, err := c.Policy(s.ctx)
	if err != nil {
		return nil, err
	}
	s.policy, s.network = pol, pol.GenesisSHA256
	for _, sg := range s.signers {
		if err := s.checkGovernance(sg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkGovernance: the key is a registered, active governance key — the
// node would refuse the command otherwise, after burning its id.
func (s *session) checkGovernance(sg *jws.Signer) error {
	if !protocol.IsMemberID(sg.Member()) {
		// > protocol/SPEC.md §11.1: requester keys sign queries only.
		return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is a key of requester %s: it signs status queries only, never registry commands", sg.Kid(), sg.Member())}
	}
	k, err := s.c.Key(s.ctx, sg.Kid())
	if trust.ReasonOf(err) == trust.ReasonNotFound {
		return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is not registered: registry commands are signed with a member's governance key", sg.Kid())}
	}
	if err != nil {
		return err
	}
	if k.Role != trust.RoleGovernance {
		return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is a %s key: registry commands are signed with a governance key", k.Kid, k.Role)}
	}
	if k.Status != trust.KeyActive {
		return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is %s: it can no longer sign registry commands", k.Kid, k.Status)}
	}
	return nil
}

// requireMember refuses a command naming a member the registry does not
// have, before anything is signed.
func (s *session) requireMember(id string) error {
	ms, err := s.c.Members(s.ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, m := range ms.Members {
		if m.ID == id {
			return nil
		}
		ids = append(ids, m.ID)
	}
	return &exitError{code: exitInvalid, err: fmt.Errorf("unknown member %q (members: %s)", id, strings.Join(ids, ", "))}
}

// build signs a command of the issuer (the first key's member); pop are
// the keys the command introduces, which sign too (proof of possession).
func (s *session) build(typ string, args any, propose bool, pop ...*jws.Signer) ([]byte, trust.Command, error) {
	issuer := s.signers[0].Member()
	c, err := trust.NewCommand(s.network, protocol.NewUUID(), typ, trust.TimestampOf(time.Now()), issuer, args)
	if err != nil {
		return nil, c, err
	}
	c.Propose = propose
	data, err := c.Sign(append(slices.Clone(s.signers), pop...)...)
	return data, c, err
}

// submit sends entry data (or writes it with --out) and reports the
// outcome: 0 accepted/proposed/approved, 1 rejected.
func (s *session) submit(data []byte, out string) error {
	return submitEntry(s.e, s.ctx, s.c, data, out, s.asJSON)
}

func submitEntry(e *env, ctx context.Context, c *registry.APIClient, data []byte, out string, asJSON bool) error {
	if out != "" {
		if err := e.writeOut(out, append(data, '\n'), 0o644, true); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote the signed command to %s; cosign it (crvsx registry cosign) or submit it (crvsx registry submit --entry)\n", out)
		return nil
	}
	res, err := c.Submit(ctx, data)
	if r, ok := registry.ProblemResult(err); ok {
		res, err = r, nil
	}
	if err != nil {
		var pe *protocol.ProblemError
		if errors.As(err, &pe) && pe.Problem.Cause == "timeout" {
			fmt.Fprintf(e.stdout, "%s\n", data)
		}
		return err
	}
	if asJSON {
		if err := e.printJSON(res); err != nil {
			return err
		}
		if res.Outcome == trust.OutcomeRejected {
			return &exitError{code: exitInvalid, err: errors.New(string(res.Reason)), silent: true}
		}
		return nil
	}
	return reportResult(e, res)
}

func reportResult(e *env, r registry.APIResult) error {
	switch r.Outcome {
	case trust.OutcomeAccepted:
		if r.Proposal != "" && r.Type == trust.CmdProposalApprove {
			fmt.Fprintf(e.stdout, "accepted: the approval completed proposal %s, which was executed (index %d)\n", r.Proposal, r.Index)
		} else {
			fmt.Fprintf(e.stdout, "accepted: %s %s at index %d\n", r.Type, r.CommandID, r.Index)
		}
	case trust.OutcomeProposed:
		fmt.Fprintf(e.stdout, "proposed: %s at index %d; %s\n", r.Type, r.Index, approvalsLine(r.Proposal, r.Approvals, r.Required))
		fmt.Fprintf(e.stdout, "  other members approve with: crvsx registry approve --node URL --key GOVERNANCE.jwk %s\n", r.Proposal)
	case trust.OutcomeApproved:
		fmt.Fprintf(e.stdout, "approved: %s (index %d)\n", approvalsLine(r.Proposal, r.Approvals, r.Required), r.Index)
	default:
		msg := fmt.Sprintf("rejected: %s: %s", r.Reason, r.Detail)
		switch r.Reason {
		case trust.ReasonBelowThreshold:
			msg += "\n  a network command needs the approvals of several members: propose it (crvsx registry propose) or collect their signatures (crvsx registry cosign)"
		case trust.ReasonProposalExpired:
			msg += "\n  the proposal expired: propose the command again"
		}
		fmt.Fprintf(e.stderr, "%s (index %d; nothing changed)\n", msg, r.Index)
		return &exitError{code: exitInvalid, err: errors.New(string(r.Reason)), silent: true}
	}
	return nil
}
