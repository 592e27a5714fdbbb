package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/spf13/cobra"
)

func newRegistryCmd(e *env) *cobra.Command {
	reg := &cobra.Command{
		Use:   "registry",
		Short: "The network's registry: genesis ceremony, signed commands, members, keys, trust bundle",
		Long: `The registry is the network's trust root (node/registry/DESIGN.md): members,
their governance and signing keys, nodes with their TLS key pins, and the
policy, changed only by commands signed with governance keys and replicated
by Raft between the nodes.

Offline (no node needed):
  genesis init|endorse|finalize|verify   the founding ceremony (DESIGN §3)
  node-key generate|pin                  a node's TLS key and its SPKI pin
  crvsx verify --bundle                  verify a message against a trust bundle

Online (talk to a node's registry API with --node URL):
  propose, approve, submit               sign and submit commands
  keys add|rotate|retire|revoke          key commands, signed here
  members, keys list, proposals, status  read the registry
  bundle                                 download the trust bundle

Private keys never leave this machine: commands are signed locally and only
the signed command is sent. A node that is not the leader forwards it.`,
	}
	reg.AddCommand(
		newGenesisCmd(e),
		newEndorseCmd(e, "endorse"),
		newNodeKeyCmd(e),
	)
	addRegistryOnlineCmds(e, reg)
	return reg
}

// readSigner reads a private JWK file (a governance key for registry
// commands).
func (e *env) readSigner(file string) (*jws.Signer, error) {
	if file == "" {
		return nil, fmt.Errorf("--key PRIVATE.jwk is required")
	}
	b, err := e.readInput(file, 64<<10)
	if err != nil {
		return nil, err
	}
	s, err := jws.ParsePrivateJWK(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// parseTimeFlag parses an RFC 3339 time ("" → zero) for a flag.
func parseTimeFlag(name, v string) (registry.Timestamp, error) {
	if v == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want an RFC 3339 time such as 2026-11-27T00:00:00Z", name, v)
	}
	return registry.TimestampOf(t), nil
}

// printJSON writes v indented to stdout.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeOut writes data to path, or stdout for "" or "-". force allows
// replacing an existing file.
func (e *env) writeOut(path string, data []byte, mode os.FileMode, force bool) error {
	if path == "" || path == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	if force {
		return os.WriteFile(path, data, mode)
	}
	if err := writeNew(path, data, mode); err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("%s exists; refusing to overwrite it", path)
		}
		return err
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func trimLines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
