package main

// The registry's read commands: the replica's status, the members, the
// nodes and the open proposals.

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

func newRegStatusCmd(e *env) *cobra.Command {
	return readCmd(e, &cobra.Command{
		Use:   "status --node URL",
		Short: "A node's registry status: role, leader, applied index, staleness",
		Long: `Print what a node knows about its registry replica (node/registry/DESIGN.md §14): its Raft role
and the leader, the applied index, consensus time, chain head, the last
contact with a leader and its staleness. Past the policy's staleness bound
the node fails closed for risky operations and says "STALE".`,
		Example: `  crvsx registry status --node https://tj.example:8443 --node-pin 9f2c…
  crvsx registry status --node http://127.0.0.1:8081 --token-file admin-tokens`,
		Args: cobra.NoArgs,
	}, func(ctx context.Context, c *registry.APIClient, _ []string) (registry.APIStatus, error) {
		return c.Status(ctx)
	}, func(st registry.APIStatus, _ []string) {
		w := e.stdout
		fmt.Fprintf(w, "node           %s (%s", st.NodeID, st.Role)
		if st.Suffrage != "" {
			fmt.Fprintf(w, ", %s", st.Suffrage)
		}
		fmt.Fprintln(w, ")")
		if st.Leader != nil {
			fmt.Fprintf(w, "leader         %s %s %s\n", st.Leader.ID, st.Leader.Address, st.Leader.APIURL)
		} else {
			fmt.Fprintln(w, "leader         none known")
		}
		fmt.Fprintf(w, "genesis        %s\n", st.GenesisSHA256)
		fmt.Fprintf(w, "applied        index %d (commit %d, last %d), term %d\n", st.AppliedIndex, st.CommitIndex, st.LastIndex, st.Term)
		fmt.Fprintf(w, "consensus time %s\n", st.ConsensusTime)
		fmt.Fprintf(w, "chain head     %s\nstate hash     %s\n", st.ChainHead, st.StateHash)
		if st.LastLeaderContact != nil {
			fmt.Fprintf(w, "leader contact %s\n", st.LastLeaderContact.Format(time.RFC3339))
		}
		state := "fresh"
		if st.Stale {
			state = "STALE: fails closed for status queries, releases, deliveries, joins and writes"
		}
		if st.SyncedAt == nil {
			fmt.Fprintf(w, "staleness      never in sync with a leader yet (bound %s): %s\n", secs(st.StalenessBoundSeconds), state)
		} else {
			fmt.Fprintf(w, "staleness      %s, last in sync %s (bound %s): %s\n", secs(st.StalenessSeconds),
				st.SyncedAt.Format(time.RFC3339), secs(st.StalenessBoundSeconds), state)
		}
		if st.SnapshotError != "" {
			fmt.Fprintf(w, "snapshot error %s\n", st.SnapshotError)
		}
		if st.Failed != "" {
			fmt.Fprintf(w, "FAILED         %s\n", st.Failed)
		}
	})
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

func newRegMembersCmd(e *env) *cobra.Command {
	return readCmd(e, &cobra.Command{
		Use:     "members --node URL",
		Short:   "List the registry's members and their status",
		Example: `  crvsx registry members --node https://tj.example:8443 --node-pin 9f2c…`,
		Args:    cobra.NoArgs,
	}, func(ctx context.Context, c *registry.APIClient, _ []string) (registry.APIMembers, error) {
		return c.Members(ctx)
	}, func(ms registry.APIMembers, _ []string) {
		for _, m := range ms.Members {
			fmt.Fprintf(e.stdout, "%s  %-9s since %s  %s\n", m.ID, m.Status, m.History[len(m.History)-1].Since, m.Name)
		}
	})
}

func newRegNodesCmd(e *env) *cobra.Command {
	return readCmd(e, &cobra.Command{
		Use:     "nodes --node URL",
		Short:   "List the registered nodes with their role, addresses and TLS pins",
		Example: `  crvsx registry nodes --node http://127.0.0.1:8081 --token-file admin-tokens`,
		Args:    cobra.NoArgs,
	}, func(ctx context.Context, c *registry.APIClient, _ []string) (registry.APINodes, error) {
		return c.Nodes(ctx)
	}, func(ns registry.APINodes, _ []string) {
		for _, n := range ns.Nodes {
			fmt.Fprintf(e.stdout, "%s  %-8s raft %s  api %s  tls %s\n", n.ID, n.Role, n.RaftAddress, n.APIURL, n.TLSSPKISHA256)
		}
	})
}

func newRegRequestersCmd(e *env) *cobra.Command {
	return readCmd(e, &cobra.Command{
		Use:   "requesters --node URL [ID]",
		Short: "List the requesters (responder organisations) with their status, scope, rate and keys",
		Long: `List the requesters of the registry (protocol/REGISTRY.md §2.1): the
organisations that may send signed status queries to members' nodes, with
their status, client TLS pin, scope (countries, questions, consent bases),
rate limit and keys. Register and govern them with "crvsx registry
propose --type requester.register|requester.update|requester.suspend|
requester.reinstate" (network commands).`,
		Example: `  crvsx registry requesters --node URL --node-pin PIN
  crvsx registry requesters --node URL --node-pin PIN INT-UNHCR`,
		Args: cobra.MaximumNArgs(1),
	}, func(ctx context.Context, c *registry.APIClient, args []string) (registry.APIRequesters, error) {
		if len(args) == 0 {
			return c.Requesters(ctx)
		}
		r, err := c.Requester(ctx, args[0])
		return registry.APIRequesters{Requesters: []trust.RequesterRecord{r}}, err
	}, func(rs registry.APIRequesters, _ []string) {
		if len(rs.Requesters) == 0 {
			fmt.Fprintln(e.stderr, "no requesters")
		}
		for _, r := range rs.Requesters {
			fmt.Fprintf(e.stdout, "%s  %-9s since %s  %s (%s)\n", r.ID, r.Status, r.History[len(r.History)-1].Since, r.Name, r.OrganizationType)
			fmt.Fprintf(e.stdout, "    tls %s  rate %d/min burst %d\n", r.TLSSPKISHA256, r.Rate.PerMinute, r.Rate.Burst)
			fmt.Fprintf(e.stdout, "    countries %s  questions %s  bases %s\n", strings.Join(r.Countries, ","), strings.Join(r.Questions, ","), strings.Join(r.Bases, ","))
			for _, k := range r.Keys {
				fmt.Fprintf(e.stdout, "    key %s  %s  %-7s valid %s … %s\n", k.Kid, k.Alg, k.Status, k.NotBefore, k.NotAfter)
			}
		}
	})
}

func newRegProposalsCmd(e *env) *cobra.Command {
	return readCmd(e, &cobra.Command{
		Use:   "proposals --node URL [ID]",
		Short: "List the open proposals with their approvals, or show one with its payload",
		Example: `  crvsx registry proposals --node URL --node-pin PIN
  crvsx registry proposals --node URL --node-pin PIN 0b9d6c1e-3f0a-4c55-9d5e-2a8f3b1c7d40`,
		Args: cobra.MaximumNArgs(1),
	}, func(ctx context.Context, c *registry.APIClient, args []string) (registry.APIProposals, error) {
		if len(args) == 0 {
			return c.Proposals(ctx)
		}
		p, ct, err := c.Proposal(ctx, args[0])
		return registry.APIProposals{ConsensusTime: ct, Proposals: []registry.APIProposal{p}}, err
	}, func(ps registry.APIProposals, args []string) {
		if len(ps.Proposals) == 0 {
			fmt.Fprintln(e.stderr, "no open proposals")
		}
		for _, p := range ps.Proposals {
			fmt.Fprintf(e.stdout, "%s  %s by %s, %s; expires %s\n", p.ID, p.Type, p.Issuer, approvalsLine(p.ID, len(p.Approvals), p.Required), p.ExpiresAt)
			for _, a := range p.Approvals {
				fmt.Fprintf(e.stdout, "    approved by %s (%s) at %s\n", a.Member, a.Kid, a.At)
			}
			if len(args) == 1 {
				if pl, err := base64.RawURLEncoding.DecodeString(p.Payload); err == nil {
					fmt.Fprintf(e.stdout, "    payload %s\n    payloadSha256 %s\n", pl, p.PayloadSHA256)
				}
			}
		}
	})
}

// approvalsLine is the one phrase of a threshold: "has N of M approvals; K
// more needed".
func approvalsLine(id string, have, need int) string {
	if have >= need {
		return fmt.Sprintf("proposal %s has %d of %d approvals", id, have, need)
	}
	return fmt.Sprintf("proposal %s has %d of %d approvals; %d more needed", id, have, need, need-have)
}
