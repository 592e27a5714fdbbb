package main

import (
	"fmt"
	"runtime"

	"github.com/ecrn/crvsx/node/server"
	"github.com/spf13/cobra"
)

// The version and commit of a release build, set by the linker:
//
//	go build -ldflags "-X main.version=v0.4.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/crvsx
//
// Without them, versionLine falls back to what the Go toolchain recorded
// in the binary (the module version, vcs.revision and vcs.modified). main
// passes them to node/server (SetBuildInfo), whose crvsx_build_info metric
// says the same.
var (
	version string
	commit  string
)

// versionLine is what "crvsx version" and "crvsx --version" print:
// "crvsx VERSION (commit COMMIT[, modified]; GO-VERSION OS/ARCH)". The
// node's crvsx_build_info metric says the same (server.BuildVersion).
func versionLine() string {
	v, c := server.BuildVersion()
	return fmt.Sprintf("crvsx %s (commit %s; %s %s/%s)", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit crvsx was built from",
		Long: `Print the version and the commit of this binary. A release build sets them
with -ldflags "-X main.version=… -X main.commit=…"; otherwise they are what
the Go toolchain recorded (the module version, or "(devel)", and the
repository's revision, "modified" when the tree had uncommitted changes).
"crvsx --version" prints the same line.`,
		Example: `  crvsx version
  go build -ldflags "-X main.version=v0.4.0 -X main.commit=$(git rev-parse HEAD)" -o bin/crvsx ./cmd/crvsx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, versionLine())
			return err
		},
	}
}
