package main

import (
	"fmt"
	"path/filepath"

	"github.com/ecrn/crvsx/node/conformnet"
	"github.com/spf13/cobra"
)

func newConformInitCmd(e *env) *cobra.Command {
	var o conformnet.Options
	var dir string
	cmd := &cobra.Command{
		Use:   "init --dir DIR --candidate XX",
		Short: "Write a conformance test network for a candidate member",
		Long: `Write DIR: a small test network in which the suite plays the members
AQ and BV (admitted; the registry's voters), HM (admitted; keys the suite
retires and revokes during the run) and GS (never admitted), with a genesis
that includes the candidate member XX and its node as a founding non-voter.

DIR/candidate/ holds the candidate's keys, the local API token the suite
drives it with, and node.json, a complete configuration with which
"crvsx node --config DIR/candidate/node.json" starts this software as the
candidate. DIR/CANDIDATE.md tells the operator of a node written elsewhere
what to load: genesis, keys, tokens and ports. Private keys are written 0600.

Every listener binds to --host (loopback by default) on ports chosen now;
--candidate-ports fixes the candidate's five.`,
		Example: `  crvsx conform init --dir conform --candidate UZ
  crvsx conform init --dir conform --candidate UZ --candidate-node UZ-MOJ-CRVS --candidate-ports 9443,9080,9081,9090,9700`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || o.Candidate == "" {
				return fmt.Errorf("--dir and --candidate are required")
			}
			if err := conformnet.Init(dir, o); err != nil {
				return err
			}
			cfg := filepath.Join(dir, "candidate", "node.json")
			fmt.Fprintf(e.stdout, `Wrote the conformance network for candidate %s in %s.
Start the candidate (this software):
  crvsx node --config %s
then run the suite:
  crvsx conform run --dir %s --format html --out report.html
A node written elsewhere: read %s.
`, o.Candidate, dir, cfg, dir, filepath.Join(dir, "CANDIDATE.md"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the directory to write (must not hold a suite yet)")
	cmd.Flags().StringVar(&o.Candidate, "candidate", "", "the candidate member's id (ISO 3166-1 alpha-2)")
	cmd.Flags().StringVar(&o.CandidateNodeID, "candidate-node", "", "the candidate node's id (default XX-CANDIDATE)")
	cmd.Flags().StringVar(&o.Host, "host", "127.0.0.1", "the address every listener of the test network binds to")
	cmd.Flags().IntSliceVar(&o.CandidatePorts, "candidate-ports", nil, "the candidate's peer,local,admin,health,raft ports (default: free ones)")
	return cmd
}
