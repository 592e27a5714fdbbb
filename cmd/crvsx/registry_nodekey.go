package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/spf13/cobra"
)

func newNodeKeyCmd(e *env) *cobra.Command {
	nk := &cobra.Command{
		Use:   "node-key",
		Short: "A node's TLS key (mTLS between nodes, pinned in the registry)",
		Long: `Every node has a TLS key; nodes authenticate each other with mutual TLS 1.3
and no CA: each side checks that the SHA-256 of the other's public key
(SubjectPublicKeyInfo) is the pin registered for that node in the registry
(node/registry/DESIGN.md §13). The certificate only carries the key and can be re-issued
freely; changing the key needs a node.register with the new pin.`,
		Example: `  crvsx registry node-key generate --node-id TJ-MOJ-CRVS --out ./tls
  crvsx registry node-key pin tls/TJ-MOJ-CRVS.tls.crt`,
	}
	nk.AddCommand(newNodeKeyGenerateCmd(e), newNodeKeyPinCmd(e))
	return nk
}

func newNodeKeyGenerateCmd(e *env) *cobra.Command {
	var node, alg, out string
	cmd := &cobra.Command{
		Use:   "generate --node-id NODE-ID [--alg ES256|EdDSA] --out DIR",
		Short: "Generate a node TLS key and self-signed certificate; print the pin",
		Long: `Generate a node's TLS key (ECDSA P-256 by default, or Ed25519) and a
self-signed certificate, and write them to DIR:

  <NODE-ID>.tls.key  the private key (PKCS #8 PEM), mode 0600 — keep it secret
  <NODE-ID>.tls.crt  the certificate (PEM)

The pin (hex SHA-256 of the public key's SubjectPublicKeyInfo) is printed
on stdout: it goes into the genesis spec ("tlsSpkiSha256", or give the
certificate as "tlsCertFile") or into a node.register command.`,
		Example: `  crvsx registry node-key generate --node-id TJ-MOJ-CRVS --out ./tls`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node == "" || out == "" {
				return fmt.Errorf("--node-id NODE-ID and --out DIR are required")
			}
			cert, err := pintls.Generate(node, alg)
			if err != nil {
				return err
			}
			certPEM, keyPEM, err := pintls.Encode(cert)
			if err != nil {
				return err
			}
			pin, err := pintls.Pin(cert)
			if err != nil {
				return err
			}
			base := filepath.Join(out, node)
			if err := e.writeKeyPair(base+".tls.key", keyPEM, base+".tls.crt", certPEM); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, pin)
			return nil
		},
	}
	cmd.Flags().StringVar(&node, "node-id", "", "the node id (SPEC §2), e.g. TJ-MOJ-CRVS")
	e.deprecatedAlias(cmd, "node", "node-id")
	cmd.Flags().StringVar(&alg, "alg", "ES256", "key algorithm: ES256 (ECDSA P-256) or EdDSA (Ed25519)")
	cmd.Flags().StringVar(&out, "out", "", "directory to write the key and certificate to")
	return cmd
}

func newNodeKeyPinCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "pin CERT.pem",
		Short:   "Print the SPKI pin of a node's TLS certificate",
		Example: `  crvsx registry node-key pin tls/TJ-MOJ-CRVS.tls.crt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pin, err := pinOfCertFile(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(e.stdout, pin)
			return err
		},
	}
}

// pinOfCertFile reads a PEM certificate and returns its SPKI pin.
func pinOfCertFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%s: no PEM CERTIFICATE", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return protocol.SPKIPin(c.RawSubjectPublicKeyInfo), nil
}
