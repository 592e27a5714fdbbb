package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/spf13/cobra"
)

// e2eResult is the output of `crvsx bench e2e --json`.
type e2eResult struct {
	E2EPerS            float64 `json:"e2e_per_s"`
	P50Ms              float64 `json:"p50_ms"`
	P99Ms              float64 `json:"p99_ms"`
	RawES256VerifyPerS float64 `json:"raw_es256_verify_per_s"`
	PipelinePerS       float64 `json:"pipeline_per_s"`
	E2ERatio           float64 `json:"e2e_ratio"`
	RSSStartMB         float64 `json:"rss_start_mb"`
	RSSEndMB           float64 `json:"rss_end_mb"`
	// RSS split: anonymous memory (heap, stacks: what a leak grows) and
	// file-backed pages (the stores' memory maps, which grow with the data).
	RSSAnonStartMB float64 `json:"rss_anon_start_mb"`
	RSSAnonEndMB   float64 `json:"rss_anon_end_mb"`
	RSSFileStartMB float64 `json:"rss_file_start_mb"`
	RSSFileEndMB   float64 `json:"rss_file_end_mb"`
	Messages       int     `json:"messages"`
	Errors         int     `json:"errors"`
	Concurrency    int     `json:"concurrency"`
	DurationS      float64 `json:"duration_s"`
	Fsync          bool    `json:"fsync"`
	Fsyncs         uint64  `json:"fsyncs"`
	MessageBytes   int     `json:"message_bytes"`
}

func newBenchE2ECmd(e *env) *cobra.Command {
	var (
		asJSON      bool
		duration    time.Duration
		concurrency int
		noSync      bool
		cpuProfile  string
		progress    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "e2e [--json] [--duration D] [--concurrency N]",
		Short: "Two nodes on loopback: the full inbound path against raw ES256, in one run",
		Long: `Start two member nodes (TR and TJ) on loopback with a 2-voter registry and
durable writes (fsync) on, pre-sign realistic ~4.8 KB birth messages from TR
to TJ, and post them to TJ's peer API from N concurrent clients over
keep-alive mutual-TLS connections, each answered with a signed receipt after
the durable write. Reports the rate, the latency percentiles, the raw ES256
verify rate and the in-process pipeline rate measured in the same run, the
ratio e2e / raw, and the process's RSS at the start and end of the run
("--duration 60s" is the soak). RSS is also split into anonymous memory (the
heap: what a leak grows) and file-backed pages (the stores' memory maps,
which grow with the data kept). While it runs, a progress line goes to
stderr every --progress (elapsed, messages so far, rate).`,
		Example: `  crvsx bench e2e --duration 5s
  crvsx bench e2e --json --duration 60s --concurrency 64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := benchE2E(cmd.Context(), duration, concurrency, !noSync, e.stderr, progress)
			if err != nil {
				return err
			}
			if asJSON {
				return e.printJSON(res)
			}
			fmt.Fprintf(e.stdout, "end to end:        %8.0f msg/s  (p50 %.1f ms, p99 %.1f ms, %d messages, %d errors, %d clients, fsync %v)\n",
				res.E2EPerS, res.P50Ms, res.P99Ms, res.Messages, res.Errors, res.Concurrency, res.Fsync)
			fmt.Fprintf(e.stdout, "raw ES256 verify:  %8.0f /s\n", res.RawES256VerifyPerS)
			fmt.Fprintf(e.stdout, "pipeline:          %8.0f /s\n", res.PipelinePerS)
			fmt.Fprintf(e.stdout, "e2e ratio:         %8.3f\n", res.E2ERatio)
			fmt.Fprintf(e.stdout, "RSS:               %8.1f MB → %.1f MB (anonymous %.1f → %.1f, file-backed %.1f → %.1f)\n",
				res.RSSStartMB, res.RSSEndMB, res.RSSAnonStartMB, res.RSSAnonEndMB, res.RSSFileStartMB, res.RSSFileEndMB)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "how long to post messages (60s is the soak)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 32, "concurrent clients")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	cmd.Flags().BoolVar(&noSync, "no-fsync", false, "turn durable writes off (to measure the plumbing alone)")
	cmd.Flags().DurationVar(&progress, "progress", 5*time.Second, "print a progress line on stderr this often (0: never)")
	return cmd
}

// benchE2E runs the benchmark, printing a progress line to w every
// progress (0: never).
func benchE2E(ctx context.Context, duration time.Duration, concurrency int, fsync bool, w io.Writer, progress time.Duration) (*e2eResult, error) {
	if duration < time.Second || concurrency < 1 || concurrency > 1024 {
		return nil, fmt.Errorf("need --duration ≥ 1s and 1 ≤ --concurrency ≤ 1024")
	}
	if progress > 0 {
		fmt.Fprintln(w, "bench e2e: starting TR's and TJ's nodes, measuring raw ES256 and the pipeline, signing messages")
	}
	dir, err := os.MkdirTemp("", "crvsx-bench-e2e-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	net, err := devnet.Open(dir, devnet.Options{Countries: []string{"TR", "TJ"}, Fast: true, NoSync: !fsync}, nil)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = net.Start(sctx)
	cancel()
	if err != nil {
		return nil, err
	}
	defer net.Stop()
	tr, tj := net.Members["TR"], net.Members["TJ"]

	// The raw rate and the pipeline rate, measured in this run.
	pipe, err := benchPipeline(3 * time.Second)
	if err != nil {
		return nil, err
	}

	// Pre-signed messages: a signer goroutine keeps a buffer of signed,
	// unique births ahead of the clients (filled before the clock starts),
	// so memory stays bounded over a soak; its CPU is the sender's share of
	// this machine, as a real sender would spend it elsewhere.
	signer := tr.Node().Signer()
	created := time.Now().Add(-time.Second)
	pool := make(chan []byte, 8192)
	sctx2, stopSigning := context.WithCancel(ctx)
	defer stopSigning()
	var signErr atomic.Value
	// One realistic birth, built once; each message is a copy with its own
	// messageId (the sender's work is signing, not JSON).
	const placeholder = "00000000-0000-4000-8000-000000000000"
	base := protocoltest.BirthMessageAt(tr.NodeID, tj.NodeID, placeholder, created)
	if bytes.Count(base, []byte(placeholder)) != 1 {
		return nil, fmt.Errorf("the benchmark message does not carry its messageId once")
	}
	go func() {
		defer close(pool)
		for sctx2.Err() == nil {
			msg := bytes.Replace(base, []byte(placeholder), []byte(protocoltest.NewUUID()), 1)
			tok, err := signer.Sign(protocol.TypEvent, msg)
			if err != nil {
				signErr.Store(err)
				return
			}
			select {
			case pool <- tok:
			case <-sctx2.Done():
				return
			}
		}
	}()
	for len(pool) < cap(pool) && sctx2.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}

	client, err := peerClient(tr, tj)
	if err != nil {
		return nil, err
	}
	url := tj.PeerURL() + "/v1/messages"
	post := func(tok []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(tok))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", protocol.MediaTypeJOSE)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
	// Warm up the connections (not measured).
	for i := 0; i < concurrency; i++ {
		if err := post(<-pool); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	for len(pool) < cap(pool)-concurrency && sctx2.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	rssStart := readRSS()
	fsyncsBefore := tj.Node().Store().Stats().Commits

	var wg sync.WaitGroup
	lat := make([][]time.Duration, concurrency)
	var errs, accepted atomic.Int64
	var firstErr atomic.Value
	if progress > 0 {
		fmt.Fprintf(w, "bench e2e: posting for %s from %d clients\n", duration, concurrency)
	}
	start := time.Now()
	deadline := start.Add(duration)
	stopProgress := reportProgress(w, progress, start, &accepted)
	defer stopProgress()
	for c := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				tok, ok := <-pool
				if !ok {
					return
				}
				t0 := time.Now()
				if err := post(tok); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	stopSigning()
	runtime.GC()
	rssEnd := readRSS()
	if err, _ := signErr.Load().(error); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no message was accepted: %v", firstErr.Load())
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	res := &e2eResult{
		E2EPerS: float64(len(all)) / elapsed.Seconds(), P50Ms: pct(0.50), P99Ms: pct(0.99),
		RawES256VerifyPerS: pipe.RawES256VerifyPerS, PipelinePerS: pipe.PipelinePerS,
		RSSStartMB: rssStart.total, RSSEndMB: rssEnd.total, RSSAnonStartMB: rssStart.anon, RSSAnonEndMB: rssEnd.anon,
		RSSFileStartMB: rssStart.file, RSSFileEndMB: rssEnd.file, Messages: len(all), Errors: int(errs.Load()),
		Concurrency: concurrency, DurationS: elapsed.Seconds(), Fsync: fsync,
		Fsyncs: tj.Node().Store().Stats().Commits - fsyncsBefore, MessageBytes: len(protocoltest.BirthMessage("TR", "TJ")),
	}
	res.E2ERatio = res.E2EPerS / res.RawES256VerifyPerS
	if res.Errors > 0 {
		return res, fmt.Errorf("%d messages were refused, the first: %v", res.Errors, firstErr.Load())
	}
	return res, nil
}

// reportProgress prints "elapsed, messages so far, rate" to w every
// interval from start until the returned stop is called (which may be
// called more than once); interval 0 prints nothing.
func reportProgress(w io.Writer, interval time.Duration, start time.Time, n *atomic.Int64) (stop func()) {
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				el := now.Sub(start)
				fmt.Fprintf(w, "bench e2e: %s elapsed, %d messages, %.0f msg/s\n", el.Round(time.Second), n.Load(), float64(n.Load())/el.Seconds())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// peerClient is an HTTP client with TR's node TLS key that accepts only
// TJ's registered key: what a peer node's client does.
func peerClient(tr, tj *devnet.Member) (*http.Client, error) {
	certPEM, err := os.ReadFile(tr.Config.Keys.TLSCert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(tr.Config.Keys.TLSKey)
	if err != nil {
		return nil, err
	}
	cert, err := pintls.Load(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	nd, ok := tj.Node().Registry().View().Node(tj.NodeID)
	if !ok {
		return nil, fmt.Errorf("%s is not registered", tj.NodeID)
	}
	pin := nd.TLSSPKISHA256
	tr2 := &http.Transport{
		// No CA: the server's key is checked against TJ's registered pin.
		TLSClientConfig: pintls.ClientConfig(&cert, pintls.ExpectPin(pin)),
		MaxIdleConns:    1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
	}
	return &http.Client{Transport: tr2, Timeout: 30 * time.Second}, nil
}

type rss struct{ total, anon, file float64 }

// readRSS reads this process's resident set from /proc, in MB: the total
// and its anonymous and file-backed parts (zeros where there is no /proc).
func readRSS() rss {
	var r rss
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return r
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			r.total = kb / 1024
		case "RssAnon:":
			r.anon = kb / 1024
		case "RssFile:":
			r.file = kb / 1024
		}
	}
	return r
}
