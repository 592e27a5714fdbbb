package main

import (
	"github.com/spf13/cobra"
)

// newConformCmd is "crvsx conform": the conformance suite that certifies a
// new member's node (conformance/DESIGN.md).
func newConformCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "conform",
		Short: "Certify a candidate member's node with the conformance suite",
		Long: `The conformance suite proves that a candidate member's node — this software,
or one written elsewhere — speaks the protocol (protocol/SPEC.md) and the
registry (protocol/REGISTRY.md), and above all that it refuses what it must
refuse. The suite plays the other members of a small test network:

  1. crvsx conform init     writes the test network: the suite's members, a
                            genesis that includes the candidate, the candidate's
                            keys and a node configuration for it
  2. (start the candidate node with that configuration)
  3. crvsx conform run      runs every check against the candidate and writes
                            a report (exit 0 only when every check passed)
  4. crvsx conform certify  turns a passing report into the certificate.issue
                            registry command the secretariat signs and submits

crvsx conform vectors exports the suite's test messages and their expected
outcomes as language-neutral JSON, for another implementation's own tests.`,
		Example: `  crvsx conform init --dir conform --candidate UZ
  crvsx node --config conform/candidate/node.json &
  crvsx conform run --dir conform --format html --out report.html
  crvsx conform certify --dir conform --key TJ-gov.private.jwk --node https://10.0.0.5:9443 --node-pin PIN`,
	}
	c.AddCommand(
		newConformInitCmd(e),
		newConformRunCmd(e),
		newConformCertifyCmd(e),
		newConformVectorsCmd(e),
	)
	return c
}
