package registry

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// hcLog adapts hashicorp/raft's hclog.Logger to the injected *slog.Logger:
// the one place raft's logging is configured (STYLE.md). Levels map
// trace→debug-4, debug, info, warn, error.
type hcLog struct {
	l     *slog.Logger
	name  string
	args  []any
	level hclog.Level
}

var _ hclog.Logger = (*hcLog)(nil)

// NewRaftLogger returns hashicorp/raft's logger (hclog) writing to l: for
// the parts of raft built outside Open, such as the mTLS NetworkTransport.
func NewRaftLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return newHCLog(l, "raft")
}

func newHCLog(l *slog.Logger, name string) *hcLog {
	return &hcLog{l: l, name: name, level: hclog.Trace}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (h *hcLog) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level < h.level {
		return
	}
	sl := slogLevel(level)
	ctx := context.Background()
	if !h.l.Enabled(ctx, sl) {
		return
	}
	all := make([]any, 0, len(h.args)+len(args)+2)
	all = append(all, "logger", h.name)
	all = append(all, h.args...)
	all = append(all, args...)
	for i, a := range all {
		// raft formats some values lazily with hclog.Fmt ("servers",
		// hclog.Fmt("%+v", …)): format them here, as hclog would.
		if f, ok := a.(hclog.Format); ok && len(f) > 0 {
			if format, ok := f[0].(string); ok {
				all[i] = fmt.Sprintf(format, f[1:]...)
			}
		}
	}
	h.l.Log(ctx, sl, msg, all...)
}

func (h *hcLog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLog) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLog) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hcLog) enabled(level hclog.Level) bool {
	return level >= h.level && h.l.Enabled(context.Background(), slogLevel(level))
}

func (h *hcLog) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hcLog) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hcLog) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hcLog) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hcLog) IsError() bool { return h.enabled(hclog.Error) }

func (h *hcLog) ImpliedArgs() []any { return h.args }

func (h *hcLog) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(append([]any(nil), h.args...), args...)
	return &c
}

func (h *hcLog) Name() string { return h.name }

func (h *hcLog) Named(name string) hclog.Logger {
	c := *h
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (h *hcLog) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

func (h *hcLog) SetLevel(level hclog.Level) { h.level = level }
func (h *hcLog) GetLevel() hclog.Level      { return h.level }

func (h *hcLog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hcLog) StandardWriter(*hclog.StandardLoggerOptions) io.Writer { return hcWriter{h} }

type hcWriter struct{ h *hcLog }

func (w hcWriter) Write(p []byte) (int, error) {
	w.h.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

// wireTransport wraps the injected raft.Transport to learn two things
// hashicorp/raft does not expose:
//
//   - on a follower, when it is in sync with the leader (DESIGN.md §14):
//     it watches every AppendEntries the node accepts and reports the
//     leader's commit index with the time it arrived;
//   - on the leader, each peer's match index (the promotion rule of
//     DESIGN.md §13): from the AppendEntries and InstallSnapshot calls
//     the peer accepted. For that, pipelined replication is switched off
//     (raft then keeps one AppendEntries in flight per peer, which at
//     registry rates — a few commands a day — costs nothing).
//
// Everything else passes through unchanged.
type wireTransport struct {
	raft.Transport
	clock    func() time.Time
	observe  func(leaderCommit uint64, at time.Time)
	consumer chan raft.RPC
	stopped  chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	matchMu sync.Mutex
	match   map[raft.ServerID]uint64
}

// AppendEntriesPipeline implements raft.Transport: not supported, so that
// every AppendEntries goes through AppendEntries and is seen.
func (w *wireTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// AppendEntries implements raft.Transport and records the peer's match index.
func (w *wireTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := w.Transport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success {
		m := args.PrevLogEntry
		if n := len(args.Entries); n > 0 {
			m = args.Entries[n-1].Index
		}
		w.setMatch(id, m)
	}
	return err
}

// InstallSnapshot implements raft.Transport and records the peer's match index.
func (w *wireTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	err := w.Transport.InstallSnapshot(id, target, args, resp, data)
	if err == nil && resp.Success {
		w.setMatch(id, args.LastLogIndex)
	}
	return err
}

func (w *wireTransport) setMatch(id raft.ServerID, m uint64) {
	w.matchMu.Lock()
	defer w.matchMu.Unlock()
	if m > w.match[id] {
		w.match[id] = m
	}
}

// matchIndex returns the highest index peer id is known to hold since the
// last resetMatch.
func (w *wireTransport) matchIndex(id raft.ServerID) uint64 {
	w.matchMu.Lock()
	defer w.matchMu.Unlock()
	return w.match[id]
}

// resetMatch forgets match indexes (on a leadership change: a new leader
// may have truncated followers' logs).
func (w *wireTransport) resetMatch() {
	w.matchMu.Lock()
	defer w.matchMu.Unlock()
	clear(w.match)
}

func newWireTransport(inner raft.Transport, clock func() time.Time, observe func(uint64, time.Time)) *wireTransport {
	w := &wireTransport{Transport: inner, clock: clock, observe: observe, consumer: make(chan raft.RPC), stopped: make(chan struct{}), match: map[raft.ServerID]uint64{}}
	w.wg.Add(1)
	go w.relay()
	return w
}

// raftTransport returns the transport to give raft: with pre-vote if the
// inner transport has it (hashicorp/raft enables pre-vote only then, and a
// removed node with old data must not disturb the cluster).
func (w *wireTransport) raftTransport() raft.Transport {
	if pv, ok := w.Transport.(raft.WithPreVote); ok {
		return &wirePreVote{wireTransport: w, pv: pv}
	}
	return w
}

// Consumer implements raft.Transport.
func (w *wireTransport) Consumer() <-chan raft.RPC { return w.consumer }

func (w *wireTransport) relay() {
	defer w.wg.Done()
	in := w.Transport.Consumer()
	for {
		select {
		case rpc := <-in:
			w.watch(&rpc)
			select {
			case w.consumer <- rpc:
			case <-w.stopped:
				return
			}
		case <-w.stopped:
			return
		}
	}
}

func (w *wireTransport) watch(rpc *raft.RPC) {
	req, ok := rpc.Command.(*raft.AppendEntriesRequest)
	if !ok || req.LeaderCommitIndex == 0 {
		return
	}
	// Raft's follower commits min(leader commit, last new entry): what
	// lies beyond the entries this request matched may be stale.
	commit := req.PrevLogEntry
	if n := len(req.Entries); n > 0 {
		commit = req.Entries[n-1].Index
	}
	commit = min(commit, req.LeaderCommitIndex)
	at := w.clock()
	orig := rpc.RespChan
	ch := make(chan raft.RPCResponse, 1)
	rpc.RespChan = ch
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		select {
		case resp := <-ch:
			if r, ok := resp.Response.(*raft.AppendEntriesResponse); ok && resp.Error == nil && r.Success {
				w.observe(commit, at)
			}
			select {
			case orig <- resp:
			case <-w.stopped:
			}
		case <-w.stopped:
		}
	}()
}

// Close implements raft.WithClose: raft closes its transport on shutdown.
func (w *wireTransport) Close() error {
	w.stop()
	if c, ok := w.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

func (w *wireTransport) stop() {
	w.stopOnce.Do(func() { close(w.stopped) })
	w.wg.Wait()
}

type wirePreVote struct {
	*wireTransport
	pv raft.WithPreVote
}

// RequestPreVote implements raft.WithPreVote.
func (w *wirePreVote) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return w.pv.RequestPreVote(id, target, args, resp)
}
