package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/spf13/cobra"
)

var hex64RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// bundleFlags are the flags of an offline replay of a trust bundle: the
// bundle and the genesis pin, given as a hash or as the genesis file.
type bundleFlags struct {
	file, pin, genesis string
}

func (b *bundleFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&b.file, "bundle", "", "registry trust bundle (crvsx-trust-bundle/1) to replay offline")
	cmd.Flags().StringVar(&b.pin, "pin", "", "the genesis SHA-256 (hex) the bundle must start from")
	cmd.Flags().StringVar(&b.pin, "genesis-sha256", "", "same as --pin")
	cmd.Flags().StringVar(&b.genesis, "genesis", "", "take the pin from this genesis document (its SHA-256)")
}

// pinValue returns the pin from --pin or --genesis.
func (b *bundleFlags) pinValue(e *env) (string, error) {
	switch {
	case b.pin != "" && b.genesis != "":
		return "", fmt.Errorf("--pin and --genesis are alternatives: give one")
	case b.pin != "":
		p := strings.ToLower(b.pin)
		if !hex64RE.MatchString(p) {
			return "", fmt.Errorf("--pin must be the genesis SHA-256 as 64 hex digits")
		}
		return p, nil
	case b.genesis != "":
		doc, err := e.readInput(b.genesis, 1<<20)
		if err != nil {
			return "", err
		}
		return registry.GenesisHash(doc), nil
	}
	return "", fmt.Errorf("--bundle needs the genesis pin: --pin SHA256 (or --genesis genesis.json); a bundle is only as trustworthy as the genesis it starts from")
}

// replay reads, pins and replays the bundle and returns the trust view of
// the state it reaches. A bundle that does not replay is invalid input
// (exit 1).
func (b *bundleFlags) replay(e *env) (*registry.TrustView, error) {
	pin, err := b.pinValue(e)
	if err != nil {
		return nil, err
	}
	raw, err := e.readInput(b.file, registry.MaxBundleBytes)
	if err != nil {
		return nil, err
	}
	bundle, err := registry.ParseBundle(raw)
	if err != nil {
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("%s: %w", b.file, err)}
	}
	st, results, err := registry.Replay(bundle, pin)
	if err != nil {
		if errors.Is(err, registry.ErrGenesisPin) {
			err = fmt.Errorf("%s starts from another genesis than the pinned one: %w", b.file, err)
		}
		return nil, &exitError{code: exitInvalid, err: err}
	}
	rejected := 0
	for _, r := range results {
		if r.Outcome == registry.OutcomeRejected {
			rejected++
		}
	}
	fmt.Fprintf(e.stderr, "bundle: genesis %s, %d %s (%d rejected), registry as of %s, index %d, chain head %s\n",
		pin, len(results), plural(len(results), "entry", "entries"), rejected, st.ConsensusTime(), st.AppliedIndex(), st.ChainHead())
	return registry.NewTrustView(st), nil
}
