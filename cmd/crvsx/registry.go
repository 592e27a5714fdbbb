package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

func newRegistryCmd(e *env) *cobra.Command {
	reg := &cobra.Command{
		Use:   "registry",
		Short: "The network's registry: genesis ceremony, signed commands, members, keys, trust bundle",
		Long: `The registry is the network's trust root (protocol/REGISTRY.md): members,
their governance and signing keys, nodes with their TLS key pins, and the
policy, changed only by commands signed with governance keys and replicated
by Raft between the nodes.

Offline (no node needed):
  genesis init|endorse|finalize|verify   the founding ceremony (protocol/REGISTRY.md §3)
  node-key generate|pin                  a node's TLS key and its SPKI pin
  crvsx verify --bundle                  verify a message against a trust bundle

Online (talk to a node's registry API with --node URL): its peer API
(https://, with --node-pin, the pin of its TLS key) or, on the node's host,
its admin listener (http://, with --token-file, the operators' tokens):
  propose, approve, submit               sign and submit commands
  keys add|rotate|retire|revoke          key commands, signed here
  status, members, nodes, proposals      read the registry
  keys list                              the keys, by member, role and status
  bundle                                 download the trust bundle

Private keys never leave this machine: commands are signed locally and only
the signed command is sent. A node that is not the leader forwards it.`,
		Example: `  crvsx registry status --node http://127.0.0.1:8081 --token-file admin-tokens
  crvsx registry members --node https://tj.example:8443 --node-pin 9f2c…
  crvsx registry genesis init --spec network.json --out genesis.json`,
	}
	// "registry endorse" was "registry genesis endorse" under a second
	// name; it stays for one release, hidden.
	endorse := newEndorseCmd(e)
	endorse.Hidden = true
	e.deprecated(endorse, func(*cobra.Command) string {
		return `"crvsx registry endorse" is deprecated: use "crvsx registry genesis endorse"; it goes away in the next release`
	})
	reg.AddCommand(
		newGenesisCmd(e),
		endorse,
		newNodeKeyCmd(e),
	)
	addRegistryOnlineCmds(e, reg)
	return reg
}

// readSigner reads a private JWK file: a member's signing key for "crvsx
// sign", a governance key for registry commands. A public JWK is refused
// with what to give instead, and a key file others can read is used with a
// warning on stderr (a node refuses to start with one).
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
		if pub, perr := jws.ParsePublicJWK(b); perr == nil {
			return nil, fmt.Errorf("%s is the public key %s: signing needs its private JWK (the .private.jwk file of crvsx keys generate)", file, pub.Kid)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if file != "-" {
		e.warnReadableByOthers(file)
	}
	return s, nil
}

// warnReadableByOthers warns on stderr when a secret file is readable by
// others, in the words a node uses when it refuses such a file.
func (e *env) warnReadableByOthers(file string) {
	st, err := os.Stat(file)
	if err != nil || runtime.GOOS == "windows" {
		return
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		fmt.Fprintf(e.stderr, "warning: %s is readable by others (mode %o); chmod 600 it (a node refuses such a key file)\n", file, m)
	}
}

// parseTimeFlag parses an RFC 3339 time ("" → zero) for a flag.
func parseTimeFlag(name, v string) (trust.Timestamp, error) {
	if v == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want an RFC 3339 time such as 2026-11-27T00:00:00Z", name, v)
	}
	return trust.TimestampOf(t), nil
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
		return replaceFile(path, data, mode)
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
