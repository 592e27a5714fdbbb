package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

var hex64RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// bundleFlags are the flags of an offline replay of a trust bundle: the
// bundle and the genesis pin, given as a hash or as the genesis file.
type bundleFlags struct {
	file, pin, genesis string
}

func (b *bundleFlags) register(e *env, cmd *cobra.Command) {
	cmd.Flags().StringVar(&b.file, "bundle", "", "registry trust bundle (crvsx-trust-bundle/1) to replay offline")
	b.registerPin(e, cmd, "the genesis SHA-256 (hex) the bundle must start from: the network's pin")
}

// registerPin registers the genesis pin's flags: --genesis-sha256 (and
// its old name --pin) or --genesis FILE.
func (b *bundleFlags) registerPin(e *env, cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&b.pin, "genesis-sha256", "", usage)
	e.deprecatedAlias(cmd, "pin", "genesis-sha256")
	cmd.Flags().StringVar(&b.genesis, "genesis", "", "take the genesis SHA-256 from this genesis document")
}

// pinValue returns the pin from --genesis-sha256 or --genesis.
func (b *bundleFlags) pinValue(e *env) (string, error) {
	switch {
	case b.pin != "" && b.genesis != "":
		return "", fmt.Errorf("--genesis-sha256 and --genesis are alternatives: give one")
	case b.pin != "":
		p := strings.ToLower(b.pin)
		if !hex64RE.MatchString(p) {
			return "", fmt.Errorf("--genesis-sha256 must be the genesis SHA-256 as 64 hex digits")
		}
		return p, nil
	case b.genesis != "":
		doc, err := e.readInput(b.genesis, 1<<20)
		if err != nil {
			return "", err
		}
		return trust.GenesisHash(doc), nil
	}
	return "", fmt.Errorf("--bundle needs the genesis pin: --genesis-sha256 SHA256 (or --genesis genesis.json); a bundle is only as trustworthy as the genesis it starts from")
}

// replay reads, pins and replays the bundle and returns the trust view of
// the state it reaches. A bundle that does not replay is invalid input
// (exit 1).
func (b *bundleFlags) replay(e *env) (*trust.View, error) {
	pin, err := b.pinValue(e)
	if err != nil {
		return nil, err
	}
	raw, err := e.readInput(b.file, trust.MaxBundleBytes)
	if err != nil {
		return nil, err
	}
	bundle, err := trust.ParseBundle(raw)
	if err != nil {
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("%s: %w", b.file, err)}
	}
	st, results, err := trust.Replay(bundle, pin)
	if err != nil {
		if errors.Is(err, trust.ErrGenesisPin) {
			err = fmt.Errorf("%s starts from another genesis than the pinned one: %w", b.file, err)
		}
		return nil, &exitError{code: exitInvalid, err: err}
	}
	rejected := 0
	for _, r := range results {
		if r.Outcome == trust.OutcomeRejected {
			rejected++
		}
	}
	fmt.Fprintf(e.stderr, "bundle: genesis %s, %d %s (%d rejected), registry as of %s, index %d, chain head %s\n",
		pin, len(results), plural(len(results), "entry", "entries"), rejected, st.ConsensusTime(), st.AppliedIndex(), st.ChainHead())
	return trust.NewView(st), nil
}

func newRegBundleCmd(e *env) *cobra.Command {
	var nf nodeFlags
	var out string
	var bf bundleFlags
	cmd := &cobra.Command{
		Use:   "bundle --node URL --out FILE [--genesis-sha256 SHA256]",
		Short: "Download the trust bundle (genesis + every signed command) for offline verification",
		Long: `Download the node's trust bundle (protocol/REGISTRY.md §12): the genesis with its
endorsements and every applied entry, each a set of signed commands. Anyone
holding the genesis SHA-256 replays it offline with the code the nodes run
("crvsx verify --bundle") and reaches the same keys — without trusting the
node it came from. With --genesis-sha256 the bundle is replayed before it is written,
and refused unless it replays from that genesis to the chain head it states.`,
		Example: `  crvsx registry bundle --node https://tj.example:8443 --node-pin 9f2c… --genesis-sha256 5d41… --out trust-bundle.json
  crvsx verify --bundle trust-bundle.json --genesis-sha256 5d41… birth.jws`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE is required")
			}
			c, err := nf.client()
			if err != nil {
				return err
			}
			b, err := c.Bundle(cmd.Context())
			if err != nil {
				return err
			}
			if bf.pin != "" || bf.genesis != "" {
				pin, err := bf.pinValue(e)
				if err != nil {
					return err
				}
				parsed, err := trust.ParseBundle(b)
				if err != nil {
					return &exitError{code: exitInvalid, err: err}
				}
				st, _, err := trust.Replay(parsed, pin)
				if err != nil {
					return &exitError{code: exitInvalid, err: fmt.Errorf("the node's bundle does not replay: %w", err)}
				}
				fmt.Fprintf(e.stderr, "replayed: %d entries, index %d, chain head %s\n", len(parsed.Entries), st.AppliedIndex(), st.ChainHead())
			}
			if err := e.writeOut(out, b, 0o644, true); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", out, len(b))
			return nil
		},
	}
	nf.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "where to write the bundle")
	bf.registerPin(e, cmd, "replay the bundle from this genesis SHA-256 before writing it")
	return cmd
}
