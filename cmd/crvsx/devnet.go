package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
		lf        logFlags
	)
	cmd := &cobra.Command{
		Use:   "devnet [--dir DIR] [--countries TJ,TR,KZ] [--once]",
		Short: "Run a complete three-country network on this machine, with a demo",
		Long: `Start a complete network on loopback, with no setup: one member node per
country (default Tajikistan, Türkiye and Kazakhstan), each with generated
keys, its own store and a replica of a 3-voter Raft registry whose genesis
all members endorsed. For each node it prints its URLs (local, admin, peer
with its TLS pin, health), its tokens files, and commands to paste: send
the message the devnet wrote for it, read its inbox, ask its registry
status. Then a demo runs that a newcomer can follow in the log:

  1. TR registers the birth of a Tajik child in İstanbul; TJ receives it.
  2. KZ registers the death of a Turkish citizen in Almaty; TR receives it.
  3. TR registers the divorce of a marriage registered in Tajikistan.
  4. TJ rotates its signing key; the others pick it up.
  5. KZ's node stops while messages queue for it, then restarts.
  6. A displaced person's check: the founders register UNHCR as a
     requester; TJ imports its person records; UNHCR asks TJ about a man
     who gives his name in Latin letters and only his birth year; TJ
     answers a signed attestation; every node stops and the attestation
     is verified offline with the trust bundle; the nodes start again.
     DIR/INT-UNHCR holds UNHCR's keys and the attestation, DIR holds
     trust-bundle.json: the log prints the crvsx verify and crvsx query
     commands to try them.

Without --once the network keeps running until Ctrl-C (paste the printed
commands). With --once it prints a summary (sent, delivered, receipts
verified, rejected, the status check) and exits 0 only if every message
arrived exactly once and the attestation verified offline. --dir keeps
the network (keys, tokens, messages, data) in DIR, and starting again on
the same DIR resumes it; without it a temporary folder is used and
removed.

The files of member CC in DIR: CC/node.json (its configuration),
CC/tokens (the national system's token for the local API),
CC/admin-tokens (the operators' token for the admin listener), CC/keys/,
and the message it can send: TR/birth.json, KZ/death.json,
TJ/marriage.json.

"crvsx devnet compose" writes the same kind of network for Docker Compose,
one container per node on its own address, with a member admitted later
("crvsx devnet admit").`,
		Example: `  go run ./cmd/crvsx devnet
  crvsx devnet --once
  crvsx devnet --dir ./devnet --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log, err := lf.logger(e.stderr, lf.level)
			if err != nil {
				return err
			}
			cs := splitCountries(countries)
			if err := devnet.CheckDemo(cs); err != nil {
				return err
			}
			if dir == "" {
				tmp, err := os.MkdirTemp("", "crvsx-devnet-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			// Absolute, so that the printed commands work from any folder.
			if dir, err = filepath.Abs(dir); err != nil {
				return err
			}
			n, err := devnet.Open(dir, devnet.Options{Countries: cs, Fast: true}, log)
			if err != nil {
				return err
			}
			if err := devnet.CheckDemo(n.Countries()); err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			err = n.Start(sctx)
			cancel()
			if err != nil {
				return err
			}
			defer n.Stop()
			printDevnet(e.stdout, n)
			sum, derr := devnet.Demo(ctx, n, log)
			if once {
				b, _ := json.MarshalIndent(sum, "", "  ")
				fmt.Fprintf(e.stdout, "%s\n", b)
				if derr != nil {
					return &exitError{code: exitInvalid, err: fmt.Errorf("demo failed: %w", derr)}
				}
				if !sum.OK() {
					return &exitError{code: exitInvalid, err: errors.New("demo: not every message arrived exactly once")}
				}
				fmt.Fprintln(e.stdout, "devnet: every message arrived exactly once, every receipt verified")
				return nil
			}
			if derr != nil {
				log.Error("demo failed", "err", derr)
			} else {
				log.Info("demo done; the network keeps running: paste the commands printed above; Ctrl-C to stop", "delivered", sum.Delivered, "receipts_verified", sum.ReceiptsVerified)
			}
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "keep the network in DIR (default: a temporary folder)")
	cmd.Flags().StringVar(&countries, "countries", "TJ,TR,KZ", "member countries (the demo needs TJ, TR and KZ)")
	cmd.Flags().BoolVar(&once, "once", false, "run the demo, print the summary and exit (0 only if all arrived exactly once)")
	lf.register(cmd, "info", "debug, info, warn or error")
	cmd.AddCommand(newDevnetComposeCmd(e), newDevnetAdmitCmd(e))
	return cmd
}

// printDevnet prints, for each node of a started devnet, its URLs, tokens
// files and TLS pin, and the commands an operator pastes: each begins with
// "  crvsx " on a line of its own.
func printDevnet(w io.Writer, n *devnet.Network) {
	fmt.Fprintf(w, "crvsx devnet in %s (genesis %s)\n", n.Dir, n.Manifest.GenesisSHA256)
	for _, c := range n.Countries() {
		m := n.Members[c]
		local, admin := m.Config.Local.TokensFile, m.Config.Admin.TokensFile
		fmt.Fprintf(w, "\n%s %s\n", c, m.NodeID)
		fmt.Fprintf(w, "  local API  %-24s national system's token: %s\n", m.LocalURL(), local)
		fmt.Fprintf(w, "  admin API  %-24s operators' token: %s\n", m.AdminURL(), admin)
		fmt.Fprintf(w, "  peer API   %-24s TLS pin %s\n", m.PeerURL(), m.TLSPin)
		fmt.Fprintf(w, "  health     %s/readyz\n", m.HealthURL())
		fmt.Fprintf(w, "  console    %s/console/  operator token: %s (from %s)\n", m.AdminURL(), m.AdminToken, admin)
		fmt.Fprintf(w, "  verify     %s/console/verify  (public, no login)\n", m.HealthURL())
		if m.Sample != "" {
			fmt.Fprintf(w, "  crvsx send --node %s --token-file %s --wait 30s %s\n", m.LocalURL(), shellQuote(local), shellQuote(m.Sample))
		}
		fmt.Fprintf(w, "  crvsx inbox --node %s --token-file %s --ack\n", m.LocalURL(), shellQuote(local))
		fmt.Fprintf(w, "  crvsx registry status --node %s --token-file %s\n", m.AdminURL(), shellQuote(admin))
		fmt.Fprintf(w, "  crvsx registry members --node %s --node-pin %s\n", m.PeerURL(), m.TLSPin)
	}
	fmt.Fprintln(w)
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
