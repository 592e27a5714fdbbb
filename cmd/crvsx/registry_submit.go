package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

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
	use, short, long := "submit", "Sign a command with governance key(s) and submit it (or submit a signed one)", `Build a registry command (protocol/REGISTRY.md §4, §7), sign it with the governance key(s)
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
		use, short, long = "propose", "Propose a network command for other members to approve", `Propose a network command (protocol/REGISTRY.md §6): it is signed by your governance key,
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
			if err := checkCommandType(cf.typ, propose); err != nil {
				return err
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
				if _, ok := s.policy.Policy.Threshold(cf.typ); !ok {
					return fmt.Errorf("%s is not a network command and cannot be proposed: submit it", cf.typ)
				}
			}
			if m := memberOfArgs(args); m != "" && cf.typ != trust.CmdMemberAdmit {
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

// commandTypes are the command types a member submits (protocol/REGISTRY.md
// §7); "crvsx registry approve" builds proposal.approve.
var commandTypes = []string{
	trust.CmdMemberAdmit, trust.CmdMemberSuspend, trust.CmdMemberReinstate, trust.CmdMemberWithdraw,
	trust.CmdNodeRegister, trust.CmdNodeRemove, trust.CmdNodeSetRole,
	trust.CmdKeyAdd, trust.CmdKeyRotate, trust.CmdKeyRetire, trust.CmdKeyRevoke,
	trust.CmdCertIssue, trust.CmdCertRevoke, trust.CmdSchemaPublish, trust.CmdPolicyChange, trust.CmdProposalApprove,
	trust.CmdRequesterRegister, trust.CmdRequesterUpdate, trust.CmdRequesterSuspend, trust.CmdRequesterReinstate,
}

// checkCommandType refuses, before anything is read or signed, a --type
// that is not a command type (suggesting the nearest one) and, for a
// proposal, one that is not a network command.
func checkCommandType(typ string, propose bool) error {
	if typ == "" {
		return fmt.Errorf("--type is required: one of %s (protocol/REGISTRY.md §7)", strings.Join(commandTypes, ", "))
	}
	if !slices.Contains(commandTypes, typ) {
		msg := fmt.Sprintf("--type %s: unknown command type", typ)
		if s := nearest(typ, commandTypes); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		return fmt.Errorf("%s\n  the command types: %s", msg, strings.Join(commandTypes, ", "))
	}
	if propose && !slices.Contains(trust.NetworkCommandTypes(), typ) {
		return fmt.Errorf("%s is a self command, signed by its member alone: it cannot be proposed; submit it (crvsx registry submit)", typ)
	}
	return nil
}

// nearest returns the word of words closest to w by edit distance, if it
// is close enough to be a typing mistake.
func nearest(w string, words []string) string {
	best, bestD := "", 4
	for _, c := range words {
		if d := editDistance(w, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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
	return trust.JoinSignatures(toks...), nil
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
			sig, err := trust.SignPayload(payload, s)
			if err != nil {
				return err
			}
			joined := trust.JoinSignatures(data, sig)
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
		Long: `Approve a proposal (protocol/REGISTRY.md §6): the approval names the SHA-256 of the
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
				if trust.ReasonOf(err) == trust.ReasonProposalUnknown {
					var pe *protocol.ProblemError
					errors.As(err, &pe)
					return &exitError{code: exitInvalid, err: errors.New(pe.Problem.Detail)}
				}
				return err
			}
			now := trust.TimestampOf(time.Now())
			if max(now, ct) >= p.ExpiresAt {
				return &exitError{code: exitInvalid, err: fmt.Errorf("proposal %s expired at %s: propose the command again", p.ID, p.ExpiresAt)}
			}
			if pl, err := base64.RawURLEncoding.DecodeString(p.Payload); err == nil {
				fmt.Fprintf(e.stderr, "approving %s, %s:\n  %s\n", p.ID, approvalsLine(p.ID, len(p.Approvals), p.Required), pl)
			}
			data, _, err := s.build(trust.CmdProposalApprove, trust.ApproveArgs{Proposal: p.ID, PayloadSHA256: p.PayloadSHA256}, false)
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
