package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/registry"
	"github.com/spf13/cobra"
)

func newDevnetComposeCmd(e *env) *cobra.Command {
	var o devnet.ComposeOptions
	var out, founders, later string
	cmd := &cobra.Command{
		Use:   "compose --out DIR [--subnet 172.28.0.0/24] [--image crvsx:dev]",
		Short: "Write a network for Docker Compose: one container per node, each with its own address",
		Long: `Write into DIR (new) a network of separate hosts for Docker Compose: the
founding members (default TJ, TR, KZ; the first three are the registry's
voters) in the genesis, and members admitted later (default UZ), whose node
starts, waits, and joins the registry as a non-voter once "crvsx devnet
admit" has admitted the member and registered the node. Each node runs in
its own container with its own address on a private network (--subnet, a
/24); its local, admin and health listeners are published on this host's
loopback, on ports printed below and kept in DIR/devnet.json.

Then, in DIR:
  docker-compose up -d        (or: docker compose up -d)
and paste the commands printed below. The image must exist first: build it
as cmd/crvsx/Dockerfile says (CGO_ENABLED=0 go build, then docker build).
The containers run as your user, which owns the keys.`,
		Example: `  crvsx devnet compose --out ./net
  crvsx devnet compose --out ./net --subnet 10.77.0.0/24 --later UZ,KG`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError(errors.New("--out DIR is required"))
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			o.Founders, o.Later = splitCountries(founders), splitCountries(later)
			if o.Later == nil {
				o.Later = []string{}
			}
			o.UID, o.GID = os.Getuid(), os.Getgid()
			mf, err := devnet.ExportCompose(abs, o)
			if err != nil {
				return usageError(err)
			}
			printCompose(e.stdout, abs, mf)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the folder to write (it must not hold a network)")
	cmd.Flags().StringVar(&founders, "countries", "TJ,TR,KZ", "the founding members (the first three are the registry's voters)")
	cmd.Flags().StringVar(&later, "later", "UZ", "members admitted later (crvsx devnet admit); empty for none")
	cmd.Flags().StringVar(&o.Subnet, "subnet", "172.28.0.0/24", "the private network's IPv4 /24; node i is .10+i")
	cmd.Flags().StringVar(&o.Image, "image", "crvsx:dev", "the crvsx image")
	cmd.Flags().DurationVar(&o.MaxStaleness, "max-staleness", 0, "tighten the registry's staleness bound (default: the policy's 10m)")
	return cmd
}

func splitCountries(s string) []string {
	var cs []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(strings.ToUpper(c)); c != "" {
			cs = append(cs, c)
		}
	}
	return cs
}

// printCompose prints the next steps for an exported compose network.
func printCompose(w io.Writer, dir string, mf *devnet.Manifest) {
	fmt.Fprintf(w, "crvsx devnet compose in %s (genesis %s)\n\n", dir, mf.GenesisSHA256)
	fmt.Fprintf(w, "Start it:\n  cd %s && docker-compose up -d\n", shellQuote(dir))
	for _, c := range append(append([]string(nil), mf.Countries...), mf.Later...) {
		p := mf.Published[c]
		fmt.Fprintf(w, "\n%s %s\n", c, devnet.NodeIDs[c])
		fmt.Fprintf(w, "  local API  http://%-22s national system's token: %s\n", p.Local, shellQuote(filepath.Join(dir, c, "tokens")))
		fmt.Fprintf(w, "  admin API  http://%-22s operators' token: %s\n", p.Admin, shellQuote(filepath.Join(dir, c, "admin-tokens")))
		fmt.Fprintf(w, "  health     http://%s/readyz\n", p.Health)
		if s := mf.Samples[c]; s != "" {
			fmt.Fprintf(w, "  crvsx send --node http://%s --token-file %s --wait 60s %s\n", p.Local, shellQuote(filepath.Join(dir, c, "tokens")), shellQuote(s))
		}
		fmt.Fprintf(w, "  crvsx inbox --node http://%s --token-file %s --ack\n", p.Local, shellQuote(filepath.Join(dir, c, "tokens")))
		fmt.Fprintf(w, "  crvsx registry status --node http://%s --token-file %s\n", p.Admin, shellQuote(filepath.Join(dir, c, "admin-tokens")))
	}
	for _, c := range mf.Later {
		fmt.Fprintf(w, "\nAdmit %s (member.admit signed by the founders, then node.register; its node then joins):\n  crvsx devnet admit --dir %s %s\n", c, shellQuote(dir), c)
	}
	fmt.Fprintln(w)
}

func newDevnetAdmitCmd(e *env) *cobra.Command {
	var dir string
	var nf nodeFlags
	cmd := &cobra.Command{
		Use:   "admit --dir DIR COUNTRY",
		Short: "Admit a member of an exported network that joins later, and register its node",
		Long: `Submit the two registry commands that bring in a member of a network written by
"crvsx devnet compose --later": member.admit (signed by every founder's
governance key and by the new member's keys, as proof of possession), then
node.register of its node (signed by its new governance key). The node,
already running, then joins the registry as a non-voter and starts
exchanging messages. Without --node, the commands go to the first founder's
admin API, with its operators' token.`,
		Example: `  crvsx devnet admit --dir ./net UZ`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usageError(errors.New("--dir is required"))
			}
			country := strings.ToUpper(args[0])
			entries, err := devnet.AdmissionEntries(dir, country)
			if err != nil {
				return usageError(err)
			}
			if nf.url == "" {
				mf, err := devnet.LoadManifest(dir)
				if err != nil {
					return err
				}
				if len(mf.Countries) == 0 || mf.Published[mf.Countries[0]].Admin == "" {
					return usageError(errors.New("give --node: this network has no published admin API"))
				}
				nf.url = "http://" + mf.Published[mf.Countries[0]].Admin
				nf.tokenFile = filepath.Join(dir, mf.Countries[0], "admin-tokens")
			}
			c, err := nf.client()
			if err != nil {
				return err
			}
			for _, data := range entries {
				res, err := c.Submit(cmd.Context(), data)
				if r, ok := registry.ProblemResult(err); ok {
					res, err = r, nil
				}
				if err != nil {
					return err
				}
				if err := reportResult(e, res); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the network's folder (crvsx devnet compose --out)")
	nf.register(cmd)
	return cmd
}
