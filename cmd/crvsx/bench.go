package main

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/schemas"
	"github.com/spf13/cobra"
)

func newBenchCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure this machine: raw crypto against the node's pipelines, in one run",
		Example: `  crvsx bench pipeline
  crvsx bench e2e --duration 5s`,
	}
	c.AddCommand(newBenchPipelineCmd(e), newBenchE2ECmd(e), newBenchMatchCmd(e))
	return c
}

// pipelineResult is the output of `crvsx bench pipeline --json`.
type pipelineResult struct {
	RawES256VerifyPerS float64 `json:"raw_es256_verify_per_s"`
	PipelinePerS       float64 `json:"pipeline_per_s"`
	Ratio              float64 `json:"ratio"`
	PipelineAllocs     float64 `json:"pipeline_allocs_per_msg"`
	MessageBytes       int     `json:"message_bytes"`
	PayloadBytes       int     `json:"payload_bytes"`
	Rounds             int     `json:"rounds"`
	GoMaxProcs         int     `json:"gomaxprocs"`
}

func newBenchPipelineCmd(e *env) *cobra.Command {
	var (
		asJSON   bool
		duration time.Duration
	)
	cmd := &cobra.Command{
		Use:   "pipeline [--json] [--duration D]",
		Short: "Raw ES256 verify rate against the full verify + validate pipeline",
		Long: `Measure, in one run and on one goroutine, the rate of a raw ES256 signature
verification with Go's crypto/ecdsa and the rate of the full inbound
pipeline of protocol/SPEC.md §6 (profile checks, signature, I-JSON,
schemas, semantic rules, binding) on a realistic ~4.5 KB birth message with
Latin and Cyrillic names. The two are measured in alternating rounds so
that drift of the machine affects both alike; ratio = pipeline / raw.`,
		Example: `  crvsx bench pipeline
  crvsx bench pipeline --json --duration 10s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := benchPipeline(duration)
			if err != nil {
				return err
			}
			if asJSON {
				return e.printJSON(res)
			}
			fmt.Fprintf(e.stdout, "raw ES256 verify:   %10.0f /s\n", res.RawES256VerifyPerS)
			fmt.Fprintf(e.stdout, "full pipeline:      %10.0f /s  (%.0f allocs/msg, %d-byte message)\n", res.PipelinePerS, res.PipelineAllocs, res.MessageBytes)
			fmt.Fprintf(e.stdout, "ratio:              %10.3f\n", res.Ratio)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().DurationVar(&duration, "duration", 4*time.Second, "total measuring time, split between the two")
	return cmd
}

func benchPipeline(duration time.Duration) (*pipelineResult, error) {
	if duration < 200*time.Millisecond {
		return nil, fmt.Errorf("--duration must be at least 200ms")
	}
	tr, err := protocoltest.NewMember("TR", "ES256")
	if err != nil {
		return nil, err
	}
	tj, err := protocoltest.NewMember("TJ", "ES256")
	if err != nil {
		return nil, err
	}
	payload := protocoltest.BirthMessage("TR", "TJ")
	token := tr.Sign(protocol.TypEvent, payload)
	v := &exchange.Verifier{
		Keys:      tr.KeySet(tj),
		Schemas:   schemas.Default(),
		Typ:       protocol.TypEvent,
		Recipient: &protocol.Endpoint{NodeID: "TJ-MOJ-CRVS", Country: "TJ"},
		Skew:      5 * time.Minute,
	}
	now := time.Now()
	if _, err := v.Verify(token, now); err != nil {
		return nil, fmt.Errorf("the benchmark message does not verify: %w", err)
	}
	raw, err := rawES256(token, tr)
	if err != nil {
		return nil, err
	}

	const rounds = 8
	slice := duration / (2 * rounds)
	var rawN, pipeN int
	var rawT, pipeT time.Duration
	var mallocs uint64
	var ms runtime.MemStats
	for r := 0; r < rounds; r++ {
		n, d := loop(slice, raw)
		rawN, rawT = rawN+n, rawT+d
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		n, d = loop(slice, func() bool { _, err := v.Verify(token, now); return err == nil })
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before
		pipeN, pipeT = pipeN+n, pipeT+d
	}
	if rawN == 0 || pipeN == 0 {
		return nil, fmt.Errorf("verification failed during the measurement")
	}
	res := &pipelineResult{
		RawES256VerifyPerS: float64(rawN) / rawT.Seconds(),
		PipelinePerS:       float64(pipeN) / pipeT.Seconds(),
		PipelineAllocs:     float64(mallocs) / float64(pipeN),
		MessageBytes:       len(token),
		PayloadBytes:       len(payload),
		Rounds:             rounds,
		GoMaxProcs:         runtime.GOMAXPROCS(0),
	}
	res.Ratio = res.PipelinePerS / res.RawES256VerifyPerS
	return res, nil
}

// loop calls f until d has passed and returns how many calls succeeded and
// the time taken; a failing call stops the loop.
func loop(d time.Duration, f func() bool) (int, time.Duration) {
	start := time.Now()
	n := 0
	for {
		for i := 0; i < 16; i++ {
			if !f() {
				return 0, time.Since(start)
			}
			n++
		}
		if el := time.Since(start); el >= d {
			return n, el
		}
	}
}

// rawES256 returns a function that verifies the token's signature with
// crypto/ecdsa alone: the hash of the signing input and the ECDSA check,
// nothing else — the floor a node's pipeline is compared with.
func rawES256(token []byte, m *protocoltest.Member) (func() bool, error) {
	pub, ok := m.Key().Public.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("benchmark key is not ECDSA")
	}
	s := string(token)
	i := strings.LastIndexByte(s, '.')
	sig, err := base64.RawURLEncoding.DecodeString(s[i+1:])
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("benchmark signature is not 64 bytes of base64url")
	}
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	input := []byte(s[:i])
	return func() bool {
		h := sha256.Sum256(input)
		return ecdsa.Verify(pub, h[:], r, sv)
	}, nil
}
