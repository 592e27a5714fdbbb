package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/spf13/cobra"
)

// nodeFlags are the flags of every command that talks to a node.
type nodeFlags struct {
	url, pin string
	timeout  time.Duration
	asJSON   bool
}

func (n *nodeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&n.url, "node", "", "the node's registry API, e.g. https://tj.example:8443 (http:// only for a local admin listener)")
	cmd.Flags().StringVar(&n.pin, "node-pin", "", "SPKI SHA-256 of the node's TLS key (its registered tlsSpkiSha256); required for https")
	cmd.Flags().DurationVar(&n.timeout, "timeout", 30*time.Second, "time limit of each request")
	cmd.Flags().BoolVar(&n.asJSON, "json", false, "print the API's JSON answer (the result, for a submission)")
}

func (n *nodeFlags) client() (*registry.APIClient, error) {
	if n.url == "" {
		return nil, fmt.Errorf("--node URL is required")
	}
	return registry.NewAPIClient(n.url, n.pin, n.timeout)
}

// apiFailure turns an API error into the command's error: a registry
// refusal is "the input is not valid" (exit 1) with its reason; anything
// else (unreachable, unavailable) exit 2.
func apiFailure(err error) error {
	var ae *registry.APIError
	if !errors.As(err, &ae) {
		return err
	}
	p := ae.Problem
	msg := string(p.Code)
	if p.Reason != "" && string(p.Reason) != string(p.Code) {
		msg += " " + string(p.Reason)
	}
	msg += ": " + p.Detail
	switch p.Code {
	case protocol.CodeUnavailable, protocol.CodeRegistryStale, protocol.CodeInternal:
		if p.Cause == "timeout" {
			msg += "\n  the outcome is unknown: resubmit the SAME signed command (crvsx registry submit --entry FILE); it applies at most once"
		}
		return &exitError{code: exitUsage, err: errors.New(msg)}
	}
	return &exitError{code: exitInvalid, err: errors.New(msg)}
}

func addRegistryOnlineCmds(e *env, reg *cobra.Command) {
	reg.AddCommand(
		newRegStatusCmd(e),
		newRegMembersCmd(e),
		newRegNodesCmd(e),
		newRegProposalsCmd(e),
		newRegBundleCmd(e),
		newRegProposeCmd(e),
		newRegSubmitCmd(e),
		newRegCosignCmd(e),
		newRegApproveCmd(e),
		newRegKeysCmd(e),
	)
}

func newRegStatusCmd(e *env) *cobra.Command {
	var nf nodeFlags
	cmd := &cobra.Command{
		Use:   "status --node URL",
		Short: "A node's registry status: role, leader, applied index, staleness",
		Long: `Print what a node knows about its registry replica (DESIGN §14): its Raft role
and the leader, the applied index, consensus time, chain head, the last
contact with a leader and its staleness. Past the policy's staleness bound
the node fails closed for risky operations and says "STALE".`,
		Example: `  crvsx registry status --node https://tj.example:8443 --node-pin 9f2c…`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := nf.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return apiFailure(err)
			}
			if nf.asJSON {
				return e.printJSON(st)
			}
			w := e.stdout
			fmt.Fprintf(w, "node           %s (%s", st.NodeID, st.Role)
			if st.Suffrage != "" {
				fmt.Fprintf(w, ", %s", st.Suffrage)
			}
			fmt.Fprintln(w, ")")
			if st.Leader != nil {
				fmt.Fprintf(w, "leader         %s %s %s\n", st.Leader.ID, st.Leader.Address, st.Leader.APIURL)
			} else {
				fmt.Fprintln(w, "leader         none known")
			}
			fmt.Fprintf(w, "genesis        %s\n", st.GenesisSHA256)
			fmt.Fprintf(w, "applied        index %d (commit %d, last %d), term %d\n", st.AppliedIndex, st.CommitIndex, st.LastIndex, st.Term)
			fmt.Fprintf(w, "consensus time %s\n", st.ConsensusTime)
			fmt.Fprintf(w, "chain head     %s\nstate hash     %s\n", st.ChainHead, st.StateHash)
			if st.LastLeaderContact != nil {
				fmt.Fprintf(w, "leader contact %s\n", st.LastLeaderContact.Format(time.RFC3339))
			}
			state := "fresh"
			if st.Stale {
				state = "STALE: fails closed for status queries, releases, deliveries, joins and writes"
			}
			if st.SyncedAt == nil {
				fmt.Fprintf(w, "staleness      never in sync with a leader yet (bound %s): %s\n", secs(st.StalenessBoundSeconds), state)
			} else {
				fmt.Fprintf(w, "staleness      %s, last in sync %s (bound %s): %s\n", secs(st.StalenessSeconds),
					st.SyncedAt.Format(time.RFC3339), secs(st.StalenessBoundSeconds), state)
			}
			if st.SnapshotError != "" {
				fmt.Fprintf(w, "snapshot error %s\n", st.SnapshotError)
			}
			if st.Failed != "" {
				fmt.Fprintf(w, "FAILED         %s\n", st.Failed)
			}
			return nil
		},
	}
	nf.register(cmd)
	return cmd
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

func newRegMembersCmd(e *env) *cobra.Command {
	var nf nodeFlags
	cmd := &cobra.Command{
		Use:     "members --node URL",
		Short:   "List the registry's members and their status",
		Example: `  crvsx registry members --node https://tj.example:8443 --node-pin 9f2c…`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := nf.client()
			if err != nil {
				return err
			}
			ms, err := c.Members(cmd.Context())
			if err != nil {
				return apiFailure(err)
			}
			if nf.asJSON {
				return e.printJSON(ms)
			}
			for _, m := range ms.Members {
				fmt.Fprintf(e.stdout, "%s  %-9s since %s  %s\n", m.ID, m.Status, m.History[len(m.History)-1].Since, m.Name)
			}
			return nil
		},
	}
	nf.register(cmd)
	return cmd
}

func newRegNodesCmd(e *env) *cobra.Command {
	var nf nodeFlags
	cmd := &cobra.Command{
		Use:   "nodes --node URL",
		Short: "List the registered nodes with their role, addresses and TLS pins",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := nf.client()
			if err != nil {
				return err
			}
			ns, err := c.Nodes(cmd.Context())
			if err != nil {
				return apiFailure(err)
			}
			if nf.asJSON {
				return e.printJSON(ns)
			}
			for _, n := range ns.Nodes {
				fmt.Fprintf(e.stdout, "%s  %-8s raft %s  api %s  tls %s\n", n.ID, n.Role, n.RaftAddress, n.APIURL, n.TLSSPKISHA256)
			}
			return nil
		},
	}
	nf.register(cmd)
	return cmd
}

func newRegProposalsCmd(e *env) *cobra.Command {
	var nf nodeFlags
	cmd := &cobra.Command{
		Use:   "proposals --node URL [ID]",
		Short: "List the open proposals with their approvals, or show one with its payload",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := nf.client()
			if err != nil {
				return err
			}
			var ps registry.APIProposals
			if len(args) == 1 {
				p, ct, err := c.Proposal(cmd.Context(), args[0])
				if err != nil {
					return apiFailure(err)
				}
				ps = registry.APIProposals{ConsensusTime: ct, Proposals: []registry.APIProposal{p}}
			} else if ps, err = c.Proposals(cmd.Context()); err != nil {
				return apiFailure(err)
			}
			if nf.asJSON {
				return e.printJSON(ps)
			}
			if len(ps.Proposals) == 0 {
				fmt.Fprintln(e.stderr, "no open proposals")
			}
			for _, p := range ps.Proposals {
				fmt.Fprintf(e.stdout, "%s  %s by %s, %s; expires %s\n", p.ID, p.Type, p.Issuer, approvalsLine(p.ID, len(p.Approvals), p.Required), p.ExpiresAt)
				for _, a := range p.Approvals {
					fmt.Fprintf(e.stdout, "    approved by %s (%s) at %s\n", a.Member, a.Kid, a.At)
				}
				if len(args) == 1 {
					if pl, err := base64.RawURLEncoding.DecodeString(p.Payload); err == nil {
						fmt.Fprintf(e.stdout, "    payload %s\n    payloadSha256 %s\n", pl, p.PayloadSHA256)
					}
				}
			}
			return nil
		},
	}
	nf.register(cmd)
	return cmd
}

// approvalsLine is the one phrase of a threshold: "has N of M approvals; K
// more needed".
func approvalsLine(id string, have, need int) string {
	if have >= need {
		return fmt.Sprintf("proposal %s has %d of %d approvals", id, have, need)
	}
	return fmt.Sprintf("proposal %s has %d of %d approvals; %d more needed", id, have, need, need-have)
}

func newRegBundleCmd(e *env) *cobra.Command {
	var nf nodeFlags
	var out string
	var bf bundleFlags
	cmd := &cobra.Command{
		Use:   "bundle --node URL --out FILE [--pin SHA256]",
		Short: "Download the trust bundle (genesis + every signed command) for offline verification",
		Long: `Download the node's trust bundle (DESIGN §12): the genesis with its
endorsements and every applied entry, each a set of signed commands. Anyone
holding the genesis SHA-256 replays it offline with the code the nodes run
("crvsx verify --bundle") and reaches the same keys — without trusting the
node it came from. With --pin the bundle is replayed before it is written,
and refused unless it replays from that genesis to the chain head it states.`,
		Example: `  crvsx registry bundle --node https://tj.example:8443 --node-pin 9f2c… --pin 5d41… --out trust-bundle.json
  crvsx verify --bundle trust-bundle.json --pin 5d41… birth.jws`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE is required")
			}
			c, err := nf.client()
			if err != nil {
				return err
			}
			b, err := c.Bundle(cmd.Context())
			if err != nil {
				return apiFailure(err)
			}
			if bf.pin != "" || bf.genesis != "" {
				pin, err := bf.pinValue(e)
				if err != nil {
					return err
				}
				parsed, err := registry.ParseBundle(b)
				if err != nil {
					return &exitError{code: exitInvalid, err: err}
				}
				st, _, err := registry.Replay(parsed, pin)
				if err != nil {
					return &exitError{code: exitInvalid, err: fmt.Errorf("the node's bundle does not replay: %w", err)}
				}
				fmt.Fprintf(e.stderr, "replayed: %d entries, index %d, chain head %s\n", len(parsed.Entries), st.AppliedIndex(), st.ChainHead())
			}
			if err := e.writeOut(out, b, 0o644, true); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", out, len(b))
			return nil
		},
	}
	nf.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "where to write the bundle")
	cmd.Flags().StringVar(&bf.pin, "pin", "", "replay the bundle from this genesis SHA-256 before writing it")
	cmd.Flags().StringVar(&bf.genesis, "genesis", "", "take the pin from this genesis document")
	return cmd
}

// commandFlags build one command: its type and args, signed by the
// governance key(s).
type commandFlags struct {
	typ, args string
	keys      []string
	out       string
}

func (f *commandFlags) register(cmd *cobra.Command, withType bool) {
	if withType {
		cmd.Flags().StringVar(&f.typ, "type", "", "the command type, e.g. member.suspend (DESIGN §7)")
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
		return nil, apiFailure(err)
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
	k, err := s.c.Key(s.ctx, sg.Kid())
	if registry.ReasonOf(err) == registry.ReasonNotFound {
		return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is not registered: registry commands are signed with a member's governance key", sg.Kid())}
	}
	if err != nil {
		return apiFailure(err)
	}
	if k.Role != registry.RoleGovernance {
		return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is a %s key: registry commands are signed with a governance key", k.Kid, k.Role)}
	}
	if k.Status != registry.KeyActive {
		return &exitError{code: exitInvalid, err: fmt.Errorf("key %s is %s: it can no longer sign registry commands", k.Kid, k.Status)}
	}
	return nil
}

// requireMember refuses a command naming a member the registry does not
// have, before anything is signed.
func (s *session) requireMember(id string) error {
	ms, err := s.c.Members(s.ctx)
	if err != nil {
		return apiFailure(err)
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
func (s *session) build(typ string, args any, propose bool, pop ...*jws.Signer) ([]byte, registry.Command, error) {
	issuer := s.signers[0].Member()
	c, err := registry.NewCommand(s.network, protocol.NewUUID(), typ, registry.TimestampOf(time.Now()), issuer, args)
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
	var ae *registry.APIError
	if errors.As(err, &ae) && ae.Problem.Result != nil {
		res = *ae.Problem.Result
		err = nil
	}
	if err != nil {
		var ae *registry.APIError
		if errors.As(err, &ae) && ae.Problem.Cause == "timeout" {
			fmt.Fprintf(e.stdout, "%s\n", data)
		}
		return apiFailure(err)
	}
	if asJSON {
		if err := e.printJSON(res); err != nil {
			return err
		}
		if res.Outcome == registry.OutcomeRejected {
			return &exitError{code: exitInvalid, err: errors.New(string(res.Reason)), silent: true}
		}
		return nil
	}
	return reportResult(e, res)
}

func reportResult(e *env, r registry.APIResult) error {
	switch r.Outcome {
	case registry.OutcomeAccepted:
		if r.Proposal != "" && r.Type == registry.CmdProposalApprove {
			fmt.Fprintf(e.stdout, "accepted: the approval completed proposal %s, which was executed (index %d)\n", r.Proposal, r.Index)
		} else {
			fmt.Fprintf(e.stdout, "accepted: %s %s at index %d\n", r.Type, r.CommandID, r.Index)
		}
	case registry.OutcomeProposed:
		fmt.Fprintf(e.stdout, "proposed: %s at index %d; %s\n", r.Type, r.Index, approvalsLine(r.Proposal, r.Approvals, r.Required))
		fmt.Fprintf(e.stdout, "  other members approve with: crvsx registry approve --node URL --key GOVERNANCE.jwk %s\n", r.Proposal)
	case registry.OutcomeApproved:
		fmt.Fprintf(e.stdout, "approved: %s (index %d)\n", approvalsLine(r.Proposal, r.Approvals, r.Required), r.Index)
	default:
		msg := fmt.Sprintf("rejected: %s: %s", r.Reason, r.Detail)
		switch r.Reason {
		case registry.ReasonBelowThreshold:
			msg += "\n  a network command needs the approvals of several members: propose it (crvsx registry propose) or collect their signatures (crvsx registry cosign)"
		case registry.ReasonProposalExpired:
			msg += "\n  the proposal expired: propose the command again"
		}
		fmt.Fprintf(e.stderr, "%s (index %d; nothing changed)\n", msg, r.Index)
		return &exitError{code: exitInvalid, err: errors.New(string(r.Reason)), silent: true}
	}
	return nil
}

// readArgs reads --args: JSON text or @FILE.
func (e *env) readArgs(v string) (json.RawMessage, error) {
	if v == "" {
		return json.RawMessage("{}"), nil
	}
	b := []byte(v)
	if strings.HasPrefix(v, "@") {
		var err error
		if b, err = e.readInput(v[1:], 1<<20); err != nil {
			return nil, err
		}
	}
	b = bytes.TrimSpace(b)
	if !json.Valid(b) || len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("--args must be a JSON object (or @FILE holding one)")
	}
	return json.RawMessage(b), nil
}

// memberOfArgs returns the "member" an args object names, if any.
func memberOfArgs(args json.RawMessage) string {
	var a struct {
		Member string `json:"member"`
	}
	_ = json.Unmarshal(args, &a)
	return a.Member
}

func newGenericCmd(e *env, propose bool) *cobra.Command {
	var nf nodeFlags
	var cf commandFlags
	use, short, long := "submit", "Sign a command with governance key(s) and submit it (or submit a signed one)", `Build a registry command (DESIGN §4, §7), sign it with the governance key(s)
given — the first key's member is the issuer — and submit it to the node,
which forwards it to the leader. Self commands (node.register, key.retire…)
need only the issuer; network commands need the signatures of a threshold
of members: either collect them on one command (--out, then each member
runs "crvsx registry cosign", then "submit --entry") or use "propose".

--entry FILE submits a command signed earlier, as it is: the way to retry
a submission whose outcome is unknown (the id applies at most once).`
	ex := `  crvsx registry submit --node URL --node-pin PIN --key TJ-gov.jwk --type node.register --args @node.json
  crvsx registry submit --node URL --node-pin PIN --key TJ-gov.jwk --type member.suspend --args '{"member":"KG","reason":"audit"}' --out suspend.jws
  crvsx registry cosign --entry suspend.jws --key TR-gov.jwk --out suspend.jws
  crvsx registry submit --node URL --node-pin PIN --entry suspend.jws`
	if propose {
		use, short, long = "propose", "Propose a network command for other members to approve", `Propose a network command (DESIGN §6): it is signed by your governance key,
checked by the registry as if it were executed now, and stored as a
proposal with your approval. Other members approve it with "crvsx registry
approve"; when the approvals reach the policy's threshold it is executed.
Proposals expire after the policy's proposal lifetime.`
		ex = `  crvsx registry propose --node URL --node-pin PIN --key TJ-gov.jwk --type member.suspend --args '{"member":"KG","reason":"audit"}'
  crvsx registry propose --node URL --node-pin PIN --key TJ-gov.jwk --type node.set-role --args '{"node":"KZ-MOJ-CRVS","role":"voter"}'`
	}
	var entryFiles []string
	cmd := &cobra.Command{
		Use: use + " --node URL --key GOVERNANCE.jwk --type TYPE --args JSON", Short: short, Long: long, Example: ex,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !propose && len(entryFiles) > 0 {
				data, err := readEntries(e, entryFiles)
				if err != nil {
					return err
				}
				c, err := nf.client()
				if err != nil {
					return err
				}
				return submitEntry(e, cmd.Context(), c, data, "", nf.asJSON)
			}
			if cf.typ == "" {
				return fmt.Errorf("--type is required (e.g. member.suspend; see DESIGN §7)")
			}
			args, err := e.readArgs(cf.args)
			if err != nil {
				return err
			}
			s, err := cf.open(cmd, e, &nf)
			if err != nil {
				return err
			}
			if propose {
				if _, ok := s.policy.Policy.Thresholds[cf.typ]; !ok {
					return fmt.Errorf("%s is not a network command and cannot be proposed: submit it", cf.typ)
				}
			}
			if m := memberOfArgs(args); m != "" && cf.typ != registry.CmdMemberAdmit {
				if err := s.requireMember(m); err != nil {
					return err
				}
			}
			data, _, err := s.build(cf.typ, args, propose)
			if err != nil {
				return err
			}
			return s.submit(data, cf.out)
		},
	}
	nf.register(cmd)
	cf.register(cmd, true)
	if !propose {
		cmd.Flags().StringArrayVar(&entryFiles, "entry", nil, "submit this signed command (from --out / cosign); repeat to join signatures of one payload")
	}
	return cmd
}

func newRegProposeCmd(e *env) *cobra.Command { return newGenericCmd(e, true) }
func newRegSubmitCmd(e *env) *cobra.Command  { return newGenericCmd(e, false) }

// readEntries reads signed commands (one JWS per line) from files and joins
// them into one entry; every JWS must carry the same payload.
func readEntries(e *env, files []string) ([]byte, error) {
	var toks [][]byte
	seen := map[string]bool{}
	payload := ""
	for _, f := range files {
		b, err := e.readInput(f, 2<<20)
		if err != nil {
			return nil, err
		}
		for _, l := range trimLines(b) {
			parts := strings.Split(l, ".")
			if len(parts) != 3 {
				return nil, fmt.Errorf("%s: %q… is not a compact JWS", f, truncateStr(l, 20))
			}
			if payload == "" {
				payload = parts[1]
			} else if parts[1] != payload {
				return nil, fmt.Errorf("%s: the signatures are over different commands; co-signatures must sign the same payload (crvsx registry cosign)", f)
			}
			if !seen[l] {
				seen[l] = true
				toks = append(toks, []byte(l))
			}
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("no signed command in %s", strings.Join(files, ", "))
	}
	return registry.JoinSignatures(toks...), nil
}

func truncateStr(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func newRegCosignCmd(e *env) *cobra.Command {
	var entry, keyFile, out string
	cmd := &cobra.Command{
		Use:   "cosign --entry FILE --key GOVERNANCE.jwk [--out FILE]",
		Short: "Add your signature to a signed command (offline)",
		Long: `Sign the payload of a signed command (from "submit --out") with your
governance key and print the command with every signature so far: one JWS
per line, all over the same payload. The payload is shown on stderr: read
it before signing. With --out FILE equal to --entry the file is updated.`,
		Example: `  crvsx registry cosign --entry suspend.jws --key TR-gov.jwk --out suspend.jws`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if entry == "" {
				return fmt.Errorf("--entry FILE is required")
			}
			s, err := e.readSigner(keyFile)
			if err != nil {
				return err
			}
			data, err := readEntries(e, []string{entry})
			if err != nil {
				return err
			}
			first := bytes.SplitN(data, []byte{'\n'}, 2)[0]
			payload, err := base64.RawURLEncoding.Strict().DecodeString(strings.Split(string(first), ".")[1])
			if err != nil {
				return fmt.Errorf("%s: payload: %w", entry, err)
			}
			fmt.Fprintf(e.stderr, "signing as %s the command:\n  %s\n", s.Kid(), payload)
			sig, err := registry.SignPayload(payload, s)
			if err != nil {
				return err
			}
			joined := registry.JoinSignatures(data, sig)
			return e.writeOut(out, append(joined, '\n'), 0o644, true)
		},
	}
	cmd.Flags().StringVar(&entry, "entry", "", "the signed command")
	cmd.Flags().StringVar(&keyFile, "key", "", "your governance private JWK")
	cmd.Flags().StringVar(&out, "out", "", "write here instead of stdout (may be the --entry file)")
	return cmd
}

func newRegApproveCmd(e *env) *cobra.Command {
	var nf nodeFlags
	var cf commandFlags
	cmd := &cobra.Command{
		Use:   "approve --node URL --key GOVERNANCE.jwk PROPOSAL-ID",
		Short: "Approve an open proposal",
		Long: `Approve a proposal (DESIGN §6): the approval names the SHA-256 of the
proposal's exact payload, shown here before signing, so you approve bytes,
not an id. When the approvals reach the threshold the proposal's command is
executed. Several --key flags approve for several members at once.`,
		Example: `  crvsx registry proposals --node URL --node-pin PIN
  crvsx registry approve --node URL --node-pin PIN --key TR-gov.jwk 0b9d6c1e-3f0a-4c55-9d5e-2a8f3b1c7d40`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cf.open(cmd, e, &nf)
			if err != nil {
				return err
			}
			p, ct, err := s.c.Proposal(s.ctx, args[0])
			if err != nil {
				if registry.ReasonOf(err) == registry.ReasonProposalUnknown {
					var ae *registry.APIError
					errors.As(err, &ae)
					return &exitError{code: exitInvalid, err: errors.New(ae.Problem.Detail)}
				}
				return apiFailure(err)
			}
			now := registry.TimestampOf(time.Now())
			if max(now, ct) >= p.ExpiresAt {
				return &exitError{code: exitInvalid, err: fmt.Errorf("proposal %s expired at %s: propose the command again", p.ID, p.ExpiresAt)}
			}
			if pl, err := base64.RawURLEncoding.DecodeString(p.Payload); err == nil {
				fmt.Fprintf(e.stderr, "approving %s, %s:\n  %s\n", p.ID, approvalsLine(p.ID, len(p.Approvals), p.Required), pl)
			}
			data, _, err := s.build(registry.CmdProposalApprove, registry.ApproveArgs{Proposal: p.ID, PayloadSHA256: p.PayloadSHA256}, false)
			if err != nil {
				return err
			}
			return s.submit(data, cf.out)
		},
	}
	nf.register(cmd)
	cf.register(cmd, false)
	return cmd
}

func newRegKeysCmd(e *env) *cobra.Command {
	k := &cobra.Command{
		Use:   "keys",
		Short: "List registry keys; add, rotate, retire and revoke them with signed commands",
		Long: `Keys of members in the registry (DESIGN §2, §7). A governance key signs
registry commands, a signing key signs messages. Every change is a command
signed here with your governance key; a new key also signs it (proof that
you hold it). "Retired" keeps old signatures valid; "revoked, compromised
since T" invalidates what the key signed from T on.`,
	}
	k.AddCommand(newKeysListCmd(e), newKeysAddCmd(e), newKeysRotateCmd(e), newKeysRetireCmd(e), newKeysRevokeCmd(e))
	return k
}

func newKeysListCmd(e *env) *cobra.Command {
	var nf nodeFlags
	var member, role, status string
	cmd := &cobra.Command{
		Use:     "list --node URL [--member CC] [--role R] [--status S]",
		Short:   "List keys with their role, status and validity",
		Example: `  crvsx registry keys list --node URL --node-pin PIN --member TJ`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := nf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"member": member, "role": role, "status": status} {
				if v != "" {
					q.Set(k, v)
				}
			}
			ks, err := c.Keys(cmd.Context(), q)
			if err != nil {
				if registry.ReasonOf(err) == registry.ReasonNotFound {
					return &exitError{code: exitInvalid, err: fmt.Errorf("unknown member %q", member)}
				}
				return apiFailure(err)
			}
			if nf.asJSON {
				return e.printJSON(ks)
			}
			for _, k := range ks.Keys {
				extra := ""
				switch {
				case k.CompromisedSince != 0:
					extra = " compromised since " + k.CompromisedSince.String()
				case k.RetiredAt != 0:
					extra = " retired at " + k.RetiredAt.String()
				}
				fmt.Fprintf(e.stdout, "%s  %-10s %-6s %-8s %s … %s%s\n", k.Kid, k.Role, k.Alg, k.Status, k.NotBefore, k.NotAfter, extra)
			}
			return nil
		},
	}
	nf.register(cmd)
	cmd.Flags().StringVar(&member, "member", "", "only this member's keys")
	cmd.Flags().StringVar(&role, "role", "", "only governance or signing keys")
	cmd.Flags().StringVar(&status, "status", "", "only active, retired or revoked keys")
	return cmd
}

// newKeySpec reads the new private key and builds its KeySpec.
func newKeySpec(e *env, s *session, file, role, nb, na string) (*jws.Signer, registry.KeySpec, error) {
	if file == "" {
		return nil, registry.KeySpec{}, fmt.Errorf("--new-key PRIVATE.jwk is required: the new key signs the command too (proof of possession)")
	}
	nk, err := e.readSigner(file)
	if err != nil {
		return nil, registry.KeySpec{}, err
	}
	notBefore, err := parseTimeFlag("not-before", nb)
	if err != nil {
		return nil, registry.KeySpec{}, err
	}
	notAfter, err := parseTimeFlag("not-after", na)
	if err != nil {
		return nil, registry.KeySpec{}, err
	}
	if notBefore == 0 {
		notBefore = registry.TimestampOf(time.Now())
	}
	if notAfter == 0 {
		life := registry.Timestamp(5 * 365 * 86400)
		if m := s.policy.Policy.MaxKeyLifetimeSeconds; m > 0 && registry.Timestamp(m) < life {
			life = registry.Timestamp(m)
		}
		notAfter = notBefore + life
	}
	jwk, err := jws.MarshalPublicJWK(nk.Public())
	if err != nil {
		return nil, registry.KeySpec{}, err
	}
	return nk, registry.KeySpec{Role: role, JWK: jwk, NotBefore: notBefore, NotAfter: notAfter}, nil
}

type keyCmdFlags struct {
	nf                   nodeFlags
	cf                   commandFlags
	newKey, role, nb, na string
	propose              bool
}

func (k *keyCmdFlags) registerNew(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.newKey, "new-key", "", "the new key's private JWK (crvsx keys generate); it signs as proof of possession")
	cmd.Flags().StringVar(&k.nb, "not-before", "", "the new key is valid from (RFC 3339; default now)")
	cmd.Flags().StringVar(&k.na, "not-after", "", "the new key is valid until (RFC 3339; default 5 years, within the policy's limit)")
}

func newKeysAddCmd(e *env) *cobra.Command {
	var k keyCmdFlags
	cmd := &cobra.Command{
		Use:   "add --node URL --key GOVERNANCE.jwk --new-key NEW.jwk --role signing|governance",
		Short: "Add a key to a member (key.add; your own member, or another's by network threshold)",
		Long: `Add a key (key.add). For your own member the command is yours alone; for
another member it is a network command: add --propose, or collect
co-signatures with --out and "crvsx registry cosign". The new key's member
comes from its JWK.`,
		Example: `  crvsx keys generate --member TJ --out keys
  crvsx registry keys add --node URL --node-pin PIN --key keys/TJ-gov.private.jwk --new-key keys/TJ_new.private.jwk --role signing`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if k.role != registry.RoleSigning && k.role != registry.RoleGovernance {
				return fmt.Errorf("--role must be signing or governance")
			}
			s, err := k.cf.open(cmd, e, &k.nf)
			if err != nil {
				return err
			}
			nk, spec, err := newKeySpec(e, s, k.newKey, k.role, k.nb, k.na)
			if err != nil {
				return err
			}
			if err := s.requireMember(nk.Member()); err != nil {
				return err
			}
			data, _, err := s.build(registry.CmdKeyAdd, registry.KeyAddArgs{Member: nk.Member(), Key: spec}, k.propose, nk)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.nf.register(cmd)
	k.cf.register(cmd, false)
	k.registerNew(cmd)
	cmd.Flags().StringVar(&k.role, "role", "", "signing (messages) or governance (registry commands)")
	cmd.Flags().BoolVar(&k.propose, "propose", false, "propose it (a key for another member needs the network)")
	return cmd
}

func newKeysRotateCmd(e *env) *cobra.Command {
	var k keyCmdFlags
	var old string
	cmd := &cobra.Command{
		Use:   "rotate --node URL --key GOVERNANCE.jwk --old KID --new-key NEW.jwk",
		Short: "Replace one of your keys by a new one of the same role (key.rotate)",
		Long: `Rotate a key (key.rotate, a self command): the old key is retired now — it
keeps verifying what it signed before — and the new key, of the same role,
becomes active. The new key signs the command as proof of possession.`,
		Example: `  crvsx registry keys rotate --node URL --node-pin PIN --key keys/TJ-gov.private.jwk --old TJ:Hk2v9QpL0sXw4RtY --new-key keys/TJ_new.private.jwk`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if old == "" {
				return fmt.Errorf("--old KID is required")
			}
			s, err := k.cf.open(cmd, e, &k.nf)
			if err != nil {
				return err
			}
			ok, err := s.c.Key(s.ctx, old)
			if registry.ReasonOf(err) == registry.ReasonNotFound {
				return &exitError{code: exitInvalid, err: fmt.Errorf("unknown key %s", old)}
			} else if err != nil {
				return apiFailure(err)
			}
			nk, spec, err := newKeySpec(e, s, k.newKey, ok.Role, k.nb, k.na)
			if err != nil {
				return err
			}
			data, _, err := s.build(registry.CmdKeyRotate, registry.KeyRotateArgs{Old: old, Key: spec}, false, nk)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.nf.register(cmd)
	k.cf.register(cmd, false)
	k.registerNew(cmd)
	cmd.Flags().StringVar(&old, "old", "", "the kid of the key to replace")
	return cmd
}

func newKeysRetireCmd(e *env) *cobra.Command {
	var k keyCmdFlags
	cmd := &cobra.Command{
		Use:     "retire --node URL --key GOVERNANCE.jwk KID",
		Short:   "Retire one of your keys now (key.retire): old signatures stay valid",
		Example: `  crvsx registry keys retire --node URL --node-pin PIN --key keys/TJ-gov.private.jwk TJ:Hk2v9QpL0sXw4RtY`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := k.cf.open(cmd, e, &k.nf)
			if err != nil {
				return err
			}
			data, _, err := s.build(registry.CmdKeyRetire, registry.KeyRetireArgs{Kid: args[0]}, false)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.nf.register(cmd)
	k.cf.register(cmd, false)
	return cmd
}

func newKeysRevokeCmd(e *env) *cobra.Command {
	var k keyCmdFlags
	var reason, since string
	cmd := &cobra.Command{
		Use:   "revoke --node URL --key GOVERNANCE.jwk KID --reason retired|compromised [--compromised-since T]",
		Short: "Revoke a key (key.revoke): retired, or compromised since T",
		Long: `Revoke a key (key.revoke). --reason retired is key.retire. --reason
compromised with --compromised-since T invalidates every signature the key
made from T on, and revokes what it added from T on by self commands
(DESIGN §7 cascade). Your own key: a self command. Another member's key (it
lost control of it): a network command — add --propose.`,
		Example: `  crvsx registry keys revoke --node URL --node-pin PIN --key keys/TJ-gov.private.jwk TJ:Hk2v9QpL0sXw4RtY --reason compromised --compromised-since 2026-11-20T00:00:00Z
  crvsx registry keys revoke --node URL --node-pin PIN --key keys/TR-gov.private.jwk KG:Zx81mQ0aBc3dEf4G --reason compromised --compromised-since 2026-11-20T00:00:00Z --propose`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := registry.KeyRevokeArgs{Kid: args[0], Reason: reason}
			switch reason {
			case registry.RevokeRetired:
				if since != "" {
					return fmt.Errorf("--compromised-since goes with --reason compromised")
				}
			case registry.RevokeCompromised:
				t, err := parseTimeFlag("compromised-since", since)
				if err != nil {
					return err
				}
				if t == 0 {
					return fmt.Errorf("--reason compromised needs --compromised-since T (the first moment the key may have been in other hands)")
				}
				a.CompromisedSince = t
			default:
				return fmt.Errorf("--reason must be retired or compromised")
			}
			s, err := k.cf.open(cmd, e, &k.nf)
			if err != nil {
				return err
			}
			if _, err := s.c.Key(s.ctx, args[0]); registry.ReasonOf(err) == registry.ReasonNotFound {
				return &exitError{code: exitInvalid, err: fmt.Errorf("unknown key %s", args[0])}
			} else if err != nil {
				return apiFailure(err)
			}
			data, _, err := s.build(registry.CmdKeyRevoke, a, k.propose)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.nf.register(cmd)
	k.cf.register(cmd, false)
	cmd.Flags().StringVar(&reason, "reason", "", "retired or compromised")
	cmd.Flags().StringVar(&since, "compromised-since", "", "RFC 3339 time from which the key's signatures are invalid")
	cmd.Flags().BoolVar(&k.propose, "propose", false, "propose it (another member's key needs the network)")
	return cmd
}
