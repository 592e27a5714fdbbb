package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/attest/qr"
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
		qrFile    string
	)
	cmd := &cobra.Command{
		Use:   "verify (--trust JWKS.json | --bundle BUNDLE.json --genesis-sha256 SHA256) [--typ T] [--max-age D] (FILE|- | --qr FILE.png)",
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
--qr FILE.png reads the token from a QR code instead ("crvsx attest qr").

A status attestation (typ crvs-attestation+jws, SPEC §11.3) needs --bundle:
it is checked as of its attestedAt (the key valid then, its member active
then, not revoked as compromised at or before it), and against this
machine's clock for validUntil. The verdict is printed in plain words on
stdout — VALID, EXPIRED (genuine but no longer current: ask for a new
one; expired is not false) or NOT VALID and why — or, with --json, as
canonical JSON. Exit 0 valid, 1 expired or not valid.

Exit 0 and the signed payload on stdout when the message is valid (warnings
on stderr); exit 1 and "CODE: detail" on stderr when it is not (--json
also prints the RFC 9457 problem document on stdout); exit 2 on usage
errors.`,
		Example: `  crvsx keys jwks keys/*.public.jwk > trust.json
  crvsx verify --trust trust.json birth.jws
  crvsx verify --bundle trust-bundle.json --genesis-sha256 5d41402abc4b2a76b9719d911017c592… birth.jws
  crvsx verify --trust trust.json --max-age 168h --json - < birth.jws
  crvsx verify --bundle trust-bundle.json --genesis-sha256 5d41… attestation.jws
  crvsx verify --bundle trust-bundle.json --genesis-sha256 5d41… --qr attestation.png`,
		Args: cobra.MaximumNArgs(1),
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
			var (
				raw []byte
				err error
			)
			switch {
			case qrFile != "" && len(args) == 1:
				return fmt.Errorf("--qr FILE.png and a token FILE are alternatives: give one")
			case qrFile != "":
				raw, err = readQR(e, qrFile)
				if err != nil {
					return err
				}
			case len(args) == 1:
				raw, err = e.readInput(args[0], protocol.MaxMessageBytes+1)
				if err != nil && protocol.CodeOf(err) == "" {
					return err
				}
			default:
				return fmt.Errorf("give the token: FILE, - for stdin, or --qr FILE.png")
			}
			if err == nil {
				raw = bytes.TrimSuffix(raw, []byte("\n"))
				// > SPEC §11.3: an attestation is verified against a trust
				// > bundle replayed from the pinned genesis.
				if protocol.TypEqual(typ, protocol.TypAttestation) || (typ == "" && attest.IsAttestation(raw)) {
					if view == nil {
						return fmt.Errorf("an attestation is verified against a trust bundle (SPEC §11.3): give --bundle and --genesis-sha256, not --trust")
					}
					return verifyAttestation(e, raw, view, asJSON)
				}
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the RFC 9457 problem document on stdout when invalid (an attestation: its verdict as canonical JSON)")
	cmd.Flags().StringVar(&qrFile, "qr", "", "read the token from the QR code of this PNG file (crvsx attest qr) or JPEG photo")
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

// readQR reads the token of a QR code in a PNG file or a JPEG photo: a
// file that is neither or holds no readable QR code is not valid input
// (exit 1).
func readQR(e *env, name string) ([]byte, error) {
	b, err := e.readInput(name, qr.MaxPNGBytes)
	if err != nil {
		if protocol.CodeOf(err) != "" {
			return nil, refused(err)
		}
		return nil, err
	}
	tok, err := qr.DecodeFile(b)
	if err != nil {
		return nil, refused(fmt.Errorf("%s: %w", name, err))
	}
	return tok, nil
}
