package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/spf13/cobra"
)

var memberRE = regexp.MustCompile(`^[A-Z]{2}$`)

func newKeysCmd(e *env) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Generate and inspect signing keys (JWK files, RFC 7517)",
		Example: `  crvsx keys generate --member TR --out ~/crvsx-keys
  crvsx keys jwks ~/crvsx-keys/*.public.jwk > trust.json`,
	}
	keys.AddCommand(newKeysGenerateCmd(e), newKeysJWKSCmd(e))
	return keys
}

func newKeysGenerateCmd(e *env) *cobra.Command {
	var member, alg, out string
	cmd := &cobra.Command{
		Use:   "generate --member CC [--alg ES256|EdDSA] --out DIR",
		Short: "Generate a signing key pair for a member",
		Long: `Generate a signing key pair for a member of the network and write it as two
JWK files (RFC 7517) in DIR:

  <kid>.private.jwk  the private key, mode 0600 — keep it secret
  <kid>.public.jwk   the public key, to publish in the registry or a trust set

Each JWK carries kid, alg, use "sig" and the member's country code
(protocol/SPEC.md §2). A requester (SPEC §11.1) generates its query-signing
keys with its requester id as --member (INT-UNHCR, KG-BORDER). Existing files are never overwritten. The kid is
printed on stdout.`,
		Example: `  crvsx keys generate --member TJ --out ./keys
  crvsx keys generate --member TR --alg EdDSA --out ./keys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !memberRE.MatchString(member) && !protocol.IsRequesterID(member) {
				return fmt.Errorf("--member must be an ISO 3166-1 alpha-2 code in capitals, such as TJ, or a requester id such as INT-UNHCR; got %q", member)
			}
			if alg != "ES256" && alg != "EdDSA" {
				return fmt.Errorf("--alg must be ES256 or EdDSA; got %q", alg)
			}
			if out == "" {
				return fmt.Errorf("--out DIR is required")
			}
			signer, err := jws.GenerateKey(member, alg)
			if err != nil {
				return err
			}
			priv, err := jws.MarshalPrivateJWK(signer)
			if err != nil {
				return err
			}
			pub, err := jws.MarshalPublicJWK(signer.Public())
			if err != nil {
				return err
			}
			base := filepath.Join(out, strings.ReplaceAll(signer.Kid(), ":", "_"))
			if err := e.writeKeyPair(base+".private.jwk", priv, base+".public.jwk", pub); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, signer.Kid())
			return nil
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "the member's ISO 3166-1 alpha-2 country code (required)")
	cmd.Flags().StringVar(&alg, "alg", "ES256", "signature algorithm: ES256 or EdDSA")
	cmd.Flags().StringVar(&out, "out", "", "directory to write the two JWK files to (required)")
	return cmd
}

func newKeysJWKSCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "jwks PUBLIC.jwk...",
		Short: "Assemble public JWK files into a JWK Set for `crvsx verify --trust`",
		Long: `Read public JWK files and print a JWK Set (RFC 7517 §5) on stdout. Private
keys and duplicate kids are refused.`,
		Example: `  crvsx keys jwks keys/*.public.jwk > trust.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var set []jws.Key
			for _, name := range args {
				b, err := e.readInput(name, 64<<10)
				if err != nil {
					return err
				}
				k, err := jws.ParsePublicJWK(b)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				set = append(set, k)
			}
			out, err := jws.MarshalJWKSet(set)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", out)
			return err
		},
	}
}

// writeKeyPair writes a private key (0600) and its public part (0644) as two
// new files in a directory it creates if needed; neither file may exist, and
// a failure leaves neither behind.
func (e *env) writeKeyPair(privPath string, priv []byte, pubPath string, pub []byte) error {
	if err := os.MkdirAll(filepath.Dir(privPath), 0o755); err != nil {
		return err
	}
	if err := e.writeOut(privPath, priv, 0o600, false); err != nil {
		return err
	}
	if err := e.writeOut(pubPath, pub, 0o644, false); err != nil {
		os.Remove(privPath)
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s (private, 0600) and %s\n", privPath, pubPath)
	return nil
}
