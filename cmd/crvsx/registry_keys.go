package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

func newRegKeysCmd(e *env) *cobra.Command {
	k := &cobra.Command{
		Use:   "keys",
		Short: "List registry keys; add, rotate, retire and revoke them with signed commands",
		Long: `Keys of members in the registry (protocol/REGISTRY.md §2, §7). A governance key signs
registry commands, a signing key signs messages. Every change is a command
signed here with your governance key; a new key also signs it (proof that
you hold it). "Retired" keeps old signatures valid; "revoked, compromised
since T" invalidates what the key signed from T on.`,
		Example: `  crvsx registry keys list --node URL --node-pin PIN --member TJ
  crvsx registry keys rotate --node URL --node-pin PIN --key TJ-gov.private.jwk --old TJ:Hk2v9QpL0sXw4RtY --new-key TJ_new.private.jwk`,
	}
	k.AddCommand(newKeysListCmd(e), newKeysAddCmd(e), newKeysRotateCmd(e), newKeysRetireCmd(e), newKeysRevokeCmd(e))
	return k
}

func newKeysListCmd(e *env) *cobra.Command {
	var member, role, status string
	cmd := readCmd(e, &cobra.Command{
		Use:     "list --node URL [--member CC] [--role R] [--status S]",
		Short:   "List keys with their role, status and validity",
		Example: `  crvsx registry keys list --node URL --node-pin PIN --member TJ`,
		Args:    cobra.NoArgs,
	}, func(ctx context.Context, c *registry.APIClient, _ []string) (registry.APIKeys, error) {
		q := url.Values{}
		for k, v := range map[string]string{"member": member, "role": role, "status": status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		ks, err := c.Keys(ctx, q)
		if trust.ReasonOf(err) == trust.ReasonNotFound {
			return ks, &exitError{code: exitInvalid, err: fmt.Errorf("unknown member %q", member)}
		}
		return ks, err
	}, func(ks registry.APIKeys, _ []string) {
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
	})
	cmd.Flags().StringVar(&member, "member", "", "only this member's keys")
	cmd.Flags().StringVar(&role, "role", "", "only governance or signing keys")
	cmd.Flags().StringVar(&status, "status", "", "only active, retired or revoked keys")
	return cmd
}

// newKeySpec reads the new private key and builds its KeySpec.
func newKeySpec(e *env, s *session, file, role, nb, na string) (*jws.Signer, trust.KeySpec, error) {
	if file == "" {
		return nil, trust.KeySpec{}, fmt.Errorf("--new-key PRIVATE.jwk is required: the new key signs the command too (proof of possession)")
	}
	nk, err := e.readSigner(file)
	if err != nil {
		return nil, trust.KeySpec{}, err
	}
	notBefore, err := parseTimeFlag("not-before", nb)
	if err != nil {
		return nil, trust.KeySpec{}, err
	}
	notAfter, err := parseTimeFlag("not-after", na)
	if err != nil {
		return nil, trust.KeySpec{}, err
	}
	if notBefore == 0 {
		notBefore = trust.TimestampOf(time.Now())
	}
	if notAfter == 0 {
		life := trust.Timestamp(5 * 365 * 86400)
		if m := s.policy.Policy.MaxKeyLifetimeSeconds; m > 0 && trust.Timestamp(m) < life {
			life = trust.Timestamp(m)
		}
		notAfter = notBefore + life
	}
	jwk, err := jws.MarshalPublicJWK(nk.Public())
	if err != nil {
		return nil, trust.KeySpec{}, err
	}
	return nk, trust.KeySpec{Role: role, JWK: jwk, NotBefore: notBefore, NotAfter: notAfter}, nil
}

// keyCmdFlags are the flags of a key command: the node's, the signed
// command's, a new key's with its validity, and --role and --propose for
// the commands that take them.
type keyCmdFlags struct {
	nf                   nodeFlags
	cf                   commandFlags
	newKey, role, nb, na string
	propose              bool
}

// register registers the node's and the signed command's flags and, for a
// command that introduces a key (withNew), the new key's.
func (k *keyCmdFlags) register(cmd *cobra.Command, withNew bool) {
	k.nf.register(cmd)
	k.cf.register(cmd, false)
	if !withNew {
		return
	}
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
			if k.role != trust.RoleSigning && k.role != trust.RoleGovernance {
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
			data, _, err := s.build(trust.CmdKeyAdd, trust.KeyAddArgs{Member: nk.Member(), Key: spec}, k.propose, nk)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.register(cmd, true)
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
			if trust.ReasonOf(err) == trust.ReasonNotFound {
				return &exitError{code: exitInvalid, err: fmt.Errorf("unknown key %s", old)}
			} else if err != nil {
				return err
			}
			nk, spec, err := newKeySpec(e, s, k.newKey, ok.Role, k.nb, k.na)
			if err != nil {
				return err
			}
			data, _, err := s.build(trust.CmdKeyRotate, trust.KeyRotateArgs{Old: old, Key: spec}, false, nk)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.register(cmd, true)
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
			data, _, err := s.build(trust.CmdKeyRetire, trust.KeyRetireArgs{Kid: args[0]}, false)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.register(cmd, false)
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
(protocol/REGISTRY.md §7 cascade). Your own key: a self command. Another member's key (it
lost control of it): a network command — add --propose.`,
		Example: `  crvsx registry keys revoke --node URL --node-pin PIN --key keys/TJ-gov.private.jwk TJ:Hk2v9QpL0sXw4RtY --reason compromised --compromised-since 2026-11-20T00:00:00Z
  crvsx registry keys revoke --node URL --node-pin PIN --key keys/TR-gov.private.jwk KG:Zx81mQ0aBc3dEf4G --reason compromised --compromised-since 2026-11-20T00:00:00Z --propose`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := trust.KeyRevokeArgs{Kid: args[0], Reason: reason}
			switch reason {
			case trust.RevokeRetired:
				if since != "" {
					return fmt.Errorf("--compromised-since goes with --reason compromised")
				}
			case trust.RevokeCompromised:
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
			if _, err := s.c.Key(s.ctx, args[0]); trust.ReasonOf(err) == trust.ReasonNotFound {
				return &exitError{code: exitInvalid, err: fmt.Errorf("unknown key %s", args[0])}
			} else if err != nil {
				return err
			}
			data, _, err := s.build(trust.CmdKeyRevoke, a, k.propose)
			if err != nil {
				return err
			}
			return s.submit(data, k.cf.out)
		},
	}
	k.register(cmd, false)
	cmd.Flags().StringVar(&reason, "reason", "", "retired or compromised")
	cmd.Flags().StringVar(&since, "compromised-since", "", "RFC 3339 time from which the key's signatures are invalid")
	cmd.Flags().BoolVar(&k.propose, "propose", false, "propose it (another member's key needs the network)")
	return cmd
}
