package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecrn/crvsx/conformance"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

func newConformCertifyCmd(e *env) *cobra.Command {
	var (
		dir, report, id, nodeID string
		network                 string
		validFor                time.Duration
		nf                      nodeFlags
		cf                      commandFlags
	)
	cmd := &cobra.Command{
		Use:   "certify --dir DIR [--report FILE] --key GOVERNANCE.jwk (--node URL | --genesis-sha256 SHA256 --out FILE)",
		Short: "Build and propose the conformance certificate of a candidate that passed",
		Long: `Build the registry command certificate.issue (protocol/REGISTRY.md §7) for the
candidate of the suite in DIR, from the JSON report of a run that passed
every check, sign it with your governance key and propose it on the node
given — the network the candidate is to join, not the suite's test network.
Other members approve the proposal like any other ("crvsx registry approve");
once it is executed, member.admit of the candidate passes the policy's
admissionRequiresCertificate.

The report is refused (exit 1) when it is not exactly one that a run of this
suite directory wrote — its SHA-256 is looked up in DIR/reports/SHA256SUMS,
so an edited report is refused even if it is still well formed — when it is
not in its canonical form, when a check failed, when checks are missing
(a run with --plan, --only or --no-local), or when it is of another suite,
network or candidate. Without --report the newest report of DIR is used.

The certificate names the candidate, its node, the suite's version, the
report's SHA-256 (the record: keep the report) and its validity. With --out
the signed command is written instead, to collect co-signatures ("crvsx
registry cosign") and submit it later ("crvsx registry submit --entry");
without --node it is signed offline, for the network whose genesis hash
--genesis-sha256 gives, and --out is required.`,
		Example: `  crvsx conform certify --dir conform --key TJ-gov.private.jwk --node https://10.0.0.5:9443 --node-pin PIN
  crvsx conform certify --dir conform --key TJ-gov.private.jwk --genesis-sha256 SHA256 --out certificate.jws
  crvsx conform certify --dir conform --report conform/reports/20261204T093000Z-1a2b3c4d5e6f.json --key TJ-gov.private.jwk --node http://127.0.0.1:9080 --token-file admin-tokens --valid-for 8760h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError(errors.New("--dir is required"))
			}
			if validFor <= 0 {
				return usageError(fmt.Errorf("--valid-for %s: must be positive", validFor))
			}
			s, err := conformance.LoadSuite(dir)
			if err != nil {
				return usageError(err)
			}
			if report == "" {
				if report, err = conformance.LatestReport(dir); err != nil {
					return err
				}
				if report == "" {
					return usageError(fmt.Errorf("%s has no report: run crvsx conform run --dir %s first", dir, dir))
				}
			}
			rep, b, err := conformance.ReadReport(report)
			if err != nil {
				return refused(err)
			}
			sum := conformance.ReportSHA256(b)
			ok, err := conformance.Recorded(dir, sum)
			if err != nil {
				return err
			}
			switch {
			case !ok:
				return refused(fmt.Errorf("%s (sha256 %s) is not a report that a run of %s wrote: edited, or from another suite directory", report, sum, dir))
			case rep.Suite != conformance.Version:
				return refused(fmt.Errorf("%s is a report of %s; this is %s", report, rep.Suite, conformance.Version))
			case rep.Network != s.File.GenesisSHA256 || rep.Candidate != s.Candidate.Member:
				return refused(fmt.Errorf("%s is a report of candidate %s on test network %s, not of this suite's %s", report, rep.Candidate, rep.Network, s.Candidate.Member))
			case !rep.Passed():
				var names []string
				for _, x := range rep.Failed() {
					names = append(names, x.Plan+"/"+x.Module)
				}
				return refused(fmt.Errorf("%s: the candidate failed %d checks (%s): no certificate for a failed run", report, len(names), truncateList(names, 5)))
			}
			if missing := rep.Missing(); len(missing) > 0 {
				return refused(fmt.Errorf("%s: %d checks of the suite did not run (%s): certify a full run, without --plan, --only or --no-local", report, len(missing), truncateList(missing, 5)))
			}
			now := time.Now()
			if id == "" {
				id = fmt.Sprintf("conformance-%s-%s-%s", strings.ToLower(rep.Candidate), now.UTC().Format("20060102"), sum[:8])
			}
			if nodeID == "" {
				nodeID = rep.Node
			}
			args := trust.CertIssueArgs{ID: id, Subject: rep.Candidate, Node: nodeID, Suite: rep.Suite, ReportSHA256: sum,
				NotBefore: trust.TimestampOf(now), NotAfter: trust.TimestampOf(now.Add(validFor))}
			raw, _ := json.Marshal(args)
			fmt.Fprintf(e.stderr, "certificate.issue %s\n", raw)
			if nf.url == "" {
				return certifyOffline(e, cf, network, args)
			}
			sess, err := cf.open(cmd, e, &nf)
			if err != nil {
				return err
			}
			data, _, err := sess.build(trust.CmdCertIssue, args, cf.out == "")
			if err != nil {
				return err
			}
			return sess.submit(data, cf.out)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the suite directory the candidate was tested with (crvsx conform init, run)")
	cmd.Flags().StringVar(&report, "report", "", "the JSON report to certify (default: the newest in DIR/reports)")
	cmd.Flags().StringVar(&id, "id", "", "the certificate's id (default: conformance-<member>-<date>-<report hash>)")
	cmd.Flags().StringVar(&nodeID, "node-id", "", "the node the certificate names (default: the node of the report)")
	cmd.Flags().DurationVar(&validFor, "valid-for", 365*24*time.Hour, "how long the certificate is valid")
	cmd.Flags().StringVar(&network, "genesis-sha256", "", "without --node: the SHA-256 of the genesis of the network the certificate is for (with --out)")
	nf.register(cmd)
	cf.register(cmd, false)
	return cmd
}

// certifyOffline signs the command without a node — for a governance key
// kept on a machine off the network: the network is named by its genesis
// hash, the key is not checked against the registry, and the signed
// command goes to --out for co-signing and "crvsx registry submit --entry".
func certifyOffline(e *env, cf commandFlags, network string, args trust.CertIssueArgs) error {
	if cf.out == "" || !protocol.IsSHA256Hex(network) {
		return usageError(errors.New("without --node, give --genesis-sha256 (the network's) and --out FILE (the signed command, to submit later)"))
	}
	if len(cf.keys) == 0 {
		return usageError(errors.New("--key GOVERNANCE.jwk is required"))
	}
	var signers []*jws.Signer
	for _, k := range cf.keys {
		sg, err := e.readSigner(k)
		if err != nil {
			return err
		}
		signers = append(signers, sg)
	}
	c, err := trust.NewCommand(network, protocol.NewUUID(), trust.CmdCertIssue, trust.TimestampOf(time.Now()), signers[0].Member(), args)
	if err != nil {
		return err
	}
	data, err := c.Sign(signers...)
	if err != nil {
		return err
	}
	if err := e.writeOut(cf.out, append(data, '\n'), 0o644, true); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote the signed certificate.issue to %s: other members cosign it (crvsx registry cosign), then crvsx registry submit --entry %s\n", cf.out, cf.out)
	return nil
}

func truncateList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}
