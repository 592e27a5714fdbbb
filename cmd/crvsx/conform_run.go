package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/node/conformnet"
	"github.com/spf13/cobra"
)

func newConformRunCmd(e *env) *cobra.Command {
	var (
		dir, target, local, tokenFile, format, out, only string
		plans                                            []string
		noLocal, verbose                                 bool
		timeout                                          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run --dir DIR [--target URL] [--local URL --token-file F]",
		Short: "Run the conformance suite against a candidate node",
		Long: `Run every check of the conformance suite against the candidate node of
the test network in DIR ("crvsx conform init"): the receiver plan (what its
peer API accepts and refuses), the sender plan (what it sends, and that it
does not take a bad receipt for a delivery; driven through its local API)
and the registry plan (its replica follows the registry and fails closed
when cut off). The suite runs its own members' nodes in this process while
it runs.

The run never stops at the first failure: the report lists every check,
what it expected and what it observed, and the requirement it tests. Every
run also keeps its JSON report in DIR/reports, its SHA-256 listed in
DIR/reports/SHA256SUMS: "crvsx conform certify" certifies only a report
that this directory's runs wrote.

Exit status: 0 when every check passed, 1 when one failed (the report says
which), 2 on a usage or set-up error — including a candidate that cannot be
tested at all (down, not a crvsx node, another TLS key): one line, no report.`,
		Example: `  crvsx conform run --dir conform
  crvsx conform run --dir conform --format json --out report.json
  crvsx conform run --dir conform --target https://10.0.0.5:9443 --local http://127.0.0.1:9080 --token-file conform/candidate/tokens --format html --out report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError(errors.New("--dir is required"))
			}
			w, ok := reportWriters[format]
			if !ok {
				return usageError(fmt.Errorf("--format %q: text, json, junit or html", format))
			}
			s, err := conformance.LoadSuite(dir)
			if err != nil {
				return usageError(err)
			}
			t := conformance.Target{Suite: s, PeerURL: target, Plans: plans}
			if only != "" {
				if t.Only, err = regexp.Compile(only); err != nil {
					return usageError(fmt.Errorf("--only: %w", err))
				}
			}
			if !noLocal {
				t.LocalURL = local
				if t.LocalURL == "" {
					t.LocalURL = s.Candidate.LocalURL
				}
				if tokenFile == "" {
					tokenFile = filepath.Join(dir, s.Candidate.TokensFile)
				}
				if t.LocalToken, err = firstToken(tokenFile); err != nil {
					return usageError(fmt.Errorf("--token-file: %w", err))
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := conformance.Probe(ctx, s, target); err != nil {
				return usageError(fmt.Errorf("%w (is the candidate running, e.g. crvsx node --config %s, and is --target its peer API?)",
					err, filepath.Join(dir, s.Candidate.Config)))
			}
			log := slog.New(slog.DiscardHandler)
			if verbose {
				log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			net, err := conformnet.Start(ctx, s, slog.New(slog.DiscardHandler))
			if err != nil {
				return usageError(err)
			}
			defer net.Close()
			t.Net, t.Log = net, log
			rep, err := conformance.Run(ctx, t)
			if err != nil {
				return usageError(err)
			}
			saved, sum, err := conformance.SaveReport(dir, rep)
			if err != nil {
				return fmt.Errorf("saving the report in %s: %w", dir, err)
			}
			if err := writeReport(e, out, rep, w); err != nil {
				return usageError(err)
			}
			fmt.Fprintf(e.stderr, "crvsx: the JSON report is %s (sha256 %s)\n", saved, sum)
			passed, failed := rep.Counts()
			if !rep.Passed() {
				fmt.Fprintf(e.stderr, "crvsx: the candidate failed %d of %d checks\n", failed, passed+failed)
				return &exitError{code: exitInvalid, err: errors.New("checks failed"), silent: true}
			}
			fmt.Fprintf(e.stderr, "crvsx: the candidate passed all %d checks\n", passed)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the suite directory written by crvsx conform init")
	cmd.Flags().StringVar(&target, "target", "", "the candidate's peer API (default: its address in DIR/suite.json)")
	cmd.Flags().StringVar(&local, "local", "", "the candidate's local API, which the sender plan drives (default: from DIR/suite.json)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "the local API's tokens file (default: DIR/candidate/tokens)")
	cmd.Flags().BoolVar(&noLocal, "no-local", false, "skip the sender plan (no access to the candidate's local API)")
	cmd.Flags().StringSliceVar(&plans, "plan", nil, "run only these plans: receiver, sender, registry (default: every plan)")
	cmd.Flags().StringVar(&only, "only", "", "run only the checks whose plan/name match this regular expression")
	cmd.Flags().StringVar(&format, "format", "text", "the report's format: text, json, junit or html")
	cmd.Flags().StringVar(&out, "out", "", "write the report to this file (default: standard output)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log each check as it finishes, on standard error")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "time limit of the whole run")
	return cmd
}

// usageError is exit status 2 with err as the message: a usage or set-up
// error, or a candidate that cannot be tested at all.
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// reportWriters are the report formats of conform run.
var reportWriters = map[string]func(io.Writer, *conformance.Report) error{
	"text":  conformance.WriteText,
	"json":  conformance.WriteJSON,
	"junit": conformance.WriteJUnit,
	"html":  conformance.WriteHTML,
}

// writeReport writes the report to out (replaced whole, never half
// written) or to standard output.
func writeReport(e *env, out string, rep *conformance.Report, w func(io.Writer, *conformance.Report) error) error {
	var buf bytes.Buffer
	if err := w(&buf, rep); err != nil {
		return err
	}
	return e.writeOut(out, buf.Bytes(), 0o644, true)
}
