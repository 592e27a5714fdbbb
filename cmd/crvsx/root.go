package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ecrn/crvsx/node/server"
	"github.com/spf13/cobra"
)

// env is what every command reads and writes instead of the process globals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// Main runs the crvsx command line with args (without the program name) and
// returns the process exit code. main() is its only caller besides tests.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	server.SetBuildInfo(version, commit) // the linker's, for versionLine and crvsx_build_info
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var xe *exitError
	if !errors.As(err, &xe) || !xe.silent {
		fmt.Fprintln(stderr, "crvsx:", describe(err))
	}
	return exitCode(err)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "crvsx",
		Short: "Node software of the regional civil-registration network",
		Long: `crvsx runs a member node of the civil-registration network and is the
operator's tool around it: keys, signing, offline verification, the shared
schemas, and benchmarks. Messages are JWS-signed vital-event records
(protocol/SPEC.md); every check a node makes on an inbound message is
available offline through "crvsx verify".

` + exitCodes,
		Example: `  go run ./cmd/crvsx devnet
  crvsx keys generate --member TR --out ~/crvsx-keys
  crvsx send --node http://127.0.0.1:8080 --token-file tokens --wait 30s birth.json
  crvsx registry status --node http://127.0.0.1:8081 --token-file admin-tokens`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(
		newKeysCmd(e),
		newSignCmd(e),
		newVerifyCmd(e),
		newQueryCmd(e),
		newSchemasCmd(e),
		newBenchCmd(e),
		newRegistryCmd(e),
		newNodeCmd(e),
		newDevnetCmd(e),
		newSendCmd(e),
		newInboxCmd(e),
		newRecordsCmd(e),
		newVersionCmd(e),
		newConformCmd(e),
		newAttestCmd(e),
	)
	return root
}

// deprecatedAlias adds --old as a hidden alias of cmd's flag --name: it
// sets the same value and, when used, says on stderr that it goes away.
// (pflag's own notice would go to stdout, where a command's output is.)
func (e *env) deprecatedAlias(cmd *cobra.Command, old, name string) {
	f := cmd.Flags().Lookup(name)
	cmd.Flags().Var(f.Value, old, "deprecated: use --"+name)
	_ = cmd.Flags().MarkHidden(old)
	e.deprecated(cmd, func(c *cobra.Command) string {
		if !c.Flags().Changed(old) {
			return ""
		}
		return fmt.Sprintf("--%s is deprecated: use --%s; --%s goes away in the next release", old, name, old)
	})
}

// deprecated makes cmd print notice(cmd), if not "", on stderr before it
// runs.
func (e *env) deprecated(cmd *cobra.Command, notice func(*cobra.Command) string) {
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if n := notice(c); n != "" {
			fmt.Fprintln(e.stderr, "crvsx:", n)
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}
