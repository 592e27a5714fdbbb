package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/spf13/cobra"
)

func newDevnetCmd(e *env) *cobra.Command {
	var (
		dir       string
		countries string
		once      bool
		logLevel  string
	)
	cmd := &cobra.Command{
		Use:   "devnet [--dir DIR] [--countries TJ,TR,KZ] [--once]",
		Short: "Run a complete three-country network on this machine, with a demo",
		Long: `Start a complete network on loopback, with no setup: one member node per
country (default Tajikistan, Türkiye and Kazakhstan), each with generated
keys, its own store and a replica of a 3-voter Raft registry whose genesis
all members endorsed. The nodes' URLs and tokens are printed, then a demo
runs that a newcomer can follow in the log:

  1. TR registers the birth of a Tajik child in İstanbul; TJ receives it.
  2. KZ registers the death of a Turkish citizen in Almaty; TR receives it.
  3. TR registers the divorce of a marriage registered in Tajikistan.
  4. TJ rotates its signing key; the others pick it up.
  5. KZ's node stops while messages queue for it, then restarts.

Without --once the network keeps running until Ctrl-C (try "crvsx send" and
"crvsx inbox" against the printed URLs). With --once it prints a summary
(sent, delivered, receipts verified, rejected) and exits 0 only if every
message arrived exactly once. --dir keeps the network (keys, data) in DIR,
and starting again on the same DIR resumes it; without it a temporary
folder is used and removed.`,
		Example: `  go run ./cmd/crvsx devnet
  crvsx devnet --once
  crvsx devnet --dir ./devnet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := newLogger(e.stderr, logLevel)
			if dir == "" {
				tmp, err := os.MkdirTemp("", "crvsx-devnet-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			var cs []string
			for _, c := range strings.Split(countries, ",") {
				if c = strings.TrimSpace(strings.ToUpper(c)); c != "" {
					cs = append(cs, c)
				}
			}
			n, err := devnet.Open(dir, devnet.Options{Countries: cs, Fast: true}, log)
			if err != nil {
				return err
			}
			sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			err = n.Start(sctx)
			cancel()
			if err != nil {
				return err
			}
			defer n.Stop()
			fmt.Fprintf(e.stdout, "crvsx devnet in %s (genesis %s)\n", dir, n.Manifest.GenesisSHA256)
			for _, c := range n.Countries() {
				m := n.Members[c]
				fmt.Fprintf(e.stdout, "  %s %-12s local %s  peer %s  health %s/readyz\n", c, m.NodeID, m.LocalURL(), m.PeerURL(), m.HealthURL())
				fmt.Fprintf(e.stdout, "     token: %s\n", m.Token)
			}
			sum, derr := devnet.Demo(ctx, n, log)
			if once {
				b, _ := json.MarshalIndent(sum, "", "  ")
				fmt.Fprintf(e.stdout, "%s\n", b)
				if derr != nil {
					return &exitError{code: exitInvalid, err: fmt.Errorf("demo failed: %w", derr)}
				}
				if !sum.OK() {
					return &exitError{code: exitInvalid, err: fmt.Errorf("demo: not every message arrived exactly once")}
				}
				fmt.Fprintln(e.stdout, "devnet: every message arrived exactly once, every receipt verified")
				return nil
			}
			if derr != nil {
				log.Error("demo failed", "err", derr)
			} else {
				log.Info("demo done; the network keeps running — Ctrl-C to stop", "delivered", sum.Delivered, "receipts_verified", sum.ReceiptsVerified)
			}
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "keep the network in DIR (default: a temporary folder)")
	cmd.Flags().StringVar(&countries, "countries", "TJ,TR,KZ", "member countries (the demo needs TJ, TR and KZ)")
	cmd.Flags().BoolVar(&once, "once", false, "run the demo, print the summary and exit (0 only if all arrived exactly once)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
