package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// newNodeInstallSecretsCmd copies secret files to where the node reads
// them, readable by the node's user alone: the init container of the Helm
// chart, which runs the crvsx image itself (no second image to mirror).
func newNodeInstallSecretsCmd(e *env) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "install-secrets --to DIR SRC...",
		Short: "Copy secret files with mode 0400 for the node's user (a pod's init step)",
		Long: `Copy the regular files of each SRC directory into DIR/<name of SRC>/, mode
0400, directories 0700, as the user running the command. The node refuses
key and token files that others can read; Kubernetes mounts Secrets
group-readable when a pod has an fsGroup, so the chart's init container
runs this command to give the node files only it can read. Entries whose
name starts with "." (Kubernetes' ..data links) are skipped; the files they
point to are copied under their own names.`,
		Example: `  crvsx node install-secrets --to /etc/crvsx/secrets /secrets-src/keys /secrets-src/tokens`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, srcs []string) error {
			if to == "" {
				return usageError(errors.New("--to DIR is required"))
			}
			n := 0
			for _, src := range srcs {
				ents, err := os.ReadDir(src)
				if err != nil {
					return err
				}
				dst := filepath.Join(to, filepath.Base(filepath.Clean(src)))
				if err := os.MkdirAll(dst, 0o700); err != nil {
					return err
				}
				for _, ent := range ents {
					name := ent.Name()
					if strings.HasPrefix(name, ".") {
						continue
					}
					p := filepath.Join(src, name)
					st, err := os.Stat(p) // follows the links of a Secret volume
					if err != nil {
						return err
					}
					if !st.Mode().IsRegular() {
						continue
					}
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					out := filepath.Join(dst, name)
					if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
						return err
					}
					if err := writeNew(out, b, 0o400); err != nil {
						return err
					}
					n++
				}
			}
			fmt.Fprintf(e.stdout, "installed %d files under %s, mode 0400\n", n, to)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the directory the node reads its secret files from")
	return cmd
}
