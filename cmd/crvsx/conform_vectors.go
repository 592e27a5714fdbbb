package main

import (
	"errors"
	"fmt"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/protocol"
	"github.com/spf13/cobra"
)

func newConformVectorsCmd(e *env) *cobra.Command {
	var out, sender, recipient string
	cmd := &cobra.Command{
		Use:   "vectors --out DIR [--sender CC] [--recipient CC]",
		Short: "Export the suite's JWS test vectors as language-neutral files",
		Long: `Write the JWS test vectors of protocol/SPEC.md Appendix A — the one list the
crvsx verifier's tests and the conformance suite use — signed afresh, as files
another member's implementation runs with its own tools:

  DIR/vectors.json     each vector: name, mutation, expect (accepted or
                       rejected:<CODE>), the requirement, alg, kid and file
  DIR/keys.jwks.json   the JWK Set of the keys that verify them
  DIR/messages/ALG/…   each message, byte for byte
  DIR/README.md        how to run them

The signing keys are fresh for each export (ECDSA signatures are randomised);
the mutations are deterministic. DIR must be new or empty.`,
		Example: `  crvsx conform vectors --out vectors
  crvsx conform vectors --out vectors --sender AQ --recipient UZ`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError(errors.New("--out DIR is required"))
			}
			for _, cc := range []string{sender, recipient} {
				if !protocol.IsMemberID(cc) {
					return usageError(fmt.Errorf("%q is not a member code (ISO 3166-1 alpha-2)", cc))
				}
			}
			exp, err := conformance.ExportVectors(out, sender, recipient)
			if errors.Is(err, conformance.ErrExportDir) {
				return usageError(err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %d vectors to %s (vectors.json, keys.jwks.json, messages/, README.md)\n", len(exp.Vectors), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the directory to write (new or empty)")
	cmd.Flags().StringVar(&sender, "sender", "AQ", "the member whose fresh keys sign the vectors")
	cmd.Flags().StringVar(&recipient, "recipient", "HM", "the member the messages are addressed to")
	return cmd
}
