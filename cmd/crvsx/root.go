package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes of every command.
const (
	exitOK      = 0 // success; for verify and validate: the input is valid
	exitInvalid = 1 // the input was examined and is not valid
	exitUsage   = 2 // bad flags or arguments, unreadable files, internal errors
)

// exitError carries an exit code out of a cobra RunE. Its message, if any,
// has already been printed by the command when silent is true.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// invalid reports "the input is not valid" (exit 1); the command has
// printed the details.
func invalid(err error) error { return &exitError{code: exitInvalid, err: err, silent: true} }

// env is what every command reads and writes instead of the process globals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// Main runs the crvsx command line with args (without the program name) and
// returns the process exit code. main() is its only caller besides tests.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
	if errors.As(err, &xe) {
		if !xe.silent {
			fmt.Fprintln(stderr, "crvsx:", xe.err)
		}
		return xe.code
	}
	fmt.Fprintln(stderr, "crvsx:", err)
	return exitUsage
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

Exit codes: 0 success (valid), 1 the input is not valid, 2 usage or
internal error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newKeysCmd(e),
		newSignCmd(e),
		newVerifyCmd(e),
		newSchemasCmd(e),
		newBenchCmd(e),
		newRegistryCmd(e),
		newNodeCmd(e),
		newDevnetCmd(e),
		newSendCmd(e),
		newInboxCmd(e),
	)
	return root
}
