package main

import (
	"context"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/spf13/cobra"
)

// nodeFlags are the flags of every command that talks to a node's
// registry API: on its peer listener (https, the node's TLS key pinned) or
// on its admin listener (http on the node's host, an operator's token).
type nodeFlags struct {
	url, pin, tokenFile string
	timeout             time.Duration
	asJSON              bool
}

func (n *nodeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&n.url, "node", "", "the node's registry API: its peer API https://host:port (with --node-pin) or its admin listener http://127.0.0.1:port (with --token-file)")
	cmd.Flags().StringVar(&n.pin, "node-pin", "", "SPKI SHA-256 of the node's TLS key (its registered tlsSpkiSha256); required for https")
	cmd.Flags().StringVar(&n.tokenFile, "token-file", "", "the operators' admin tokens file, for the admin listener (\"name token\" lines, or the token alone)")
	cmd.Flags().DurationVar(&n.timeout, "timeout", 30*time.Second, "time limit of each request")
	cmd.Flags().BoolVar(&n.asJSON, "json", false, "print the API's JSON answer (the result, for a submission)")
}

func (n *nodeFlags) client() (*registry.APIClient, error) {
	u, err := nodeURL("node", n.url)
	if err != nil {
		return nil, err
	}
	c, err := registry.NewAPIClient(u, n.pin, n.timeout)
	if err != nil {
		return nil, err
	}
	if n.tokenFile != "" {
		tok, err := firstToken(n.tokenFile)
		if err != nil {
			return nil, err
		}
		c.SetToken(tok)
	}
	return c, nil
}

// addRegistryOnlineCmds adds the subcommands that talk to a node's registry
// API.
func addRegistryOnlineCmds(e *env, reg *cobra.Command) {
	reg.AddCommand(
		newRegStatusCmd(e),
		newRegMembersCmd(e),
		newRegNodesCmd(e),
		newRegRequestersCmd(e),
		newRegProposalsCmd(e),
		newRegBundleCmd(e),
		newRegProposeCmd(e),
		newRegSubmitCmd(e),
		newRegCosignCmd(e),
		newRegApproveCmd(e),
		newRegKeysCmd(e),
	)
}

// readCmd completes cmd (its Use, Short, Args…) as a command that reads
// the registry from a node: fetch asks the node, with the command's args,
// and the answer is printed as the API's JSON with --json, else by show.
// An error of fetch is the command's (exitCode classifies it).
func readCmd[T any](e *env, cmd *cobra.Command,
	fetch func(ctx context.Context, c *registry.APIClient, args []string) (T, error),
	show func(v T, args []string)) *cobra.Command {
	var nf nodeFlags
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := nf.client()
		if err != nil {
			return err
		}
		v, err := fetch(cmd.Context(), c, args)
		if err != nil {
			return err
		}
		if nf.asJSON {
			return e.printJSON(v)
		}
		show(v, args)
		return nil
	}
	nf.register(cmd)
	return cmd
}
