package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

func newVerifyCmd(e *env) *cobra.Command {
	var (
		trustFile string
		bundle    bundleFlags
		typ       string
		maxAge    time.Duration
		skew      time.Duration
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "verify (--trust JWKS.json | --bundle BUNDLE.json --genesis-sha256 SHA256) [--typ T] [--max-age D] FILE|-",
		Short: "Verify a signed message offline, as a node would",
		Long: `Verify a compact JWS message offline with every check a node runs on an
inbound message that does not need the registry (protocol/SPEC.md §6): the
size limit, the header profile against a JWK Set of trusted public keys,
the signature, the payload's JSON hygiene (I-JSON), the schemas and the
semantic rules, typ against messageType, and the sender binding (the
signing key's member is sender.country).

The trusted keys come from one of:
  --trust JWKS.json   a JWK Set: keys without validity intervals or status;
  --bundle FILE       a registry trust bundle ("crvsx registry bundle"),
                      replayed offline with the same code the nodes run,
                      from the genesis pinned by --genesis-sha256 (or
                      --genesis FILE).
                      The key must also have been valid when the message
                      was created: not before its notBefore, not after its
                      retirement or expiry, not after "compromised since",
                      its member active. A retired key keeps verifying what
                      it signed before retirement. No network is used.

It checks validity, not freshness: an archived message signed years ago
still verifies. --max-age turns the node's age limit on; a createdAt more
than --skew ahead of this machine's clock is always refused.

The input is the token exactly as received; one trailing newline (as
"crvsx sign" writes it) is removed, anything else is part of the token.

Exit 0 and the signed payload on stdout when the message is valid (warnings
on stderr); exit 1 and "CODE: detail" on stderr when it is not (--json
also prints the RFC 9457 problem document on stdout); exit 2 on usage
errors.`,
		Example: `  crvsx keys jwks keys/*.public.jwk > trust.json
  crvsx verify --trust trust.json birth.jws
  crvsx verify --bundle trust-bundle.json --genesis-sha256 5d41402abc4b2a76b9719d911017c592… birth.jws
  crvsx verify --trust trust.json --max-age 168h --json - < birth.jws`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				keys     jws.KeyLookup
				validity exchange.KeyValidity
				view     *trust.View
			)
			switch {
			case trustFile != "" && bundle.file != "":
				return fmt.Errorf("--trust and --bundle are alternatives: give one")
			case trustFile != "":
				tb, err := e.readInput(trustFile, 4<<20)
				if err != nil {
					return err
				}
				set, err := jws.ParseJWKSet(tb)
				if err != nil {
					return fmt.Errorf("%s: %w", trustFile, err)
				}
				keys = set
			case bundle.file != "":
				v, err := bundle.replay(e)
				if err != nil {
					return err
				}
				keys, validity, view = v, v, v
			default:
				return fmt.Errorf("--trust JWKS.json or --bundle BUNDLE.json is required")
			}
			if typ != "" && !knownTyp(typ) {
				return fmt.Errorf("--typ %q is not a typ of the protocol (%v)", typ, protocol.Typs)
			}
			raw, err := e.readInput(args[0], protocol.MaxMessageBytes+1)
			if err != nil && protocol.CodeOf(err) == "" {
				return err
			}
			if err == nil {
				raw = bytes.TrimSuffix(raw, []byte("\n"))
				v := &exchange.Verifier{Keys: keys, Validity: validity, Typ: typ, Skew: skew, MaxAge: maxAge}
				var msg *exchange.Verified
				msg, err = v.Verify(raw, time.Now())
				if err == nil {
					for _, w := range msg.Warnings {
						fmt.Fprintf(e.stderr, "warning: %s\n", w)
					}
					if view != nil && msg.CreatedAt.After(view.ConsensusTime().Time()) {
						fmt.Fprintf(e.stderr, "warning: the message was created at %s, after the bundle's last entry (%s): a later revocation is not in this bundle\n",
							msg.CreatedAt.UTC().Format(time.RFC3339), view.ConsensusTime())
					}
					fmt.Fprintf(e.stderr, "valid: %s\n", msg)
					_, err := fmt.Fprintf(e.stdout, "%s\n", msg.Payload)
					return err
				}
			}
			return reportRefusal(e, err, asJSON)
		},
	}
	cmd.Flags().StringVar(&trustFile, "trust", "", "JWK Set (RFC 7517) of the trusted public keys")
	bundle.register(e, cmd)
	cmd.Flags().StringVar(&typ, "typ", "", "the typ the message must have (default: the one its messageType travels as)")
	cmd.Flags().DurationVar(&maxAge, "max-age", 0, "refuse a message created longer ago than this (0: no age limit)")
	cmd.Flags().DurationVar(&skew, "skew", 5*time.Minute, "clock skew allowed for a createdAt in the future")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the RFC 9457 problem document on stdout when invalid")
	return cmd
}

func knownTyp(t string) bool {
	for _, k := range protocol.Typs {
		if k == t {
			return true
		}
	}
	return false
}

// reportRefusal prints a refusal: "CODE: detail" and the issues on stderr,
// and the problem document on stdout with --json. Internal errors (no
// code) are usage errors, exit 2.
func reportRefusal(e *env, err error, asJSON bool) error {
	code := protocol.CodeOf(err)
	if code == "" {
		return err
	}
	p := protocol.ProblemFor(err)
	fmt.Fprintf(e.stderr, "%s: %s\n", code, p.Detail)
	for _, is := range p.Issues {
		fmt.Fprintf(e.stderr, "  %s\n", is)
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if werr := enc.Encode(p); werr != nil {
			return werr
		}
	}
	return invalid(err)
}
