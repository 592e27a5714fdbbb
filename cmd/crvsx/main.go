// Command crvsx is the node software of the regional civil-registration
// network: one binary for running a member node, generating keys, signing
// and verifying messages offline, validating documents against the shared
// schemas, and measuring the machine. `crvsx --help` lists the commands.
//
// Imports: anything in this module, and spf13/cobra (spf13/pflag through
// it), which no other package imports.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
