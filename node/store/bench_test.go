package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// useBoltBatch routes the store's writes through bbolt's DB.Batch instead
// of the committer, to compare the two (DESIGN.md §5). It returns the
// number of distinct transactions committed so far.
func useBoltBatch(s *Store, delay time.Duration) func() uint64 {
	s.db.MaxBatchDelay = delay
	var mu sync.Mutex
	ids := map[int]bool{}
	s.submit = func(ctx context.Context, size int, fn func(*wtx) error) error {
		var id int
		err := s.db.Batch(func(tx *bolt.Tx) error {
			// DB.Batch may run this more than once: id is overwritten.
			id = tx.ID()
			err := fn(&wtx{tx: tx, now: s.now})
			if a := (*txAbort)(nil); errors.As(err, &a) {
				return a.err
			}
			return err
		})
		if err == nil {
			s.markDurable(uint64(id))
			mu.Lock()
			ids[id] = true
			mu.Unlock()
		}
		return err
	}
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return uint64(len(ids))
	}
}

// BenchmarkAcceptParallel: Accept of realistic records (a 6 KB JWS, a
// 1 KB receipt) with fsync ON, by 1, 8 and 32 concurrent writers, through
// the committer and through DB.Batch. Reports accepts/s, commits/accept
// and fsyncs/accept (bbolt: two fdatasyncs per commit, pages then meta).
//
// The writers are plain goroutines rather than b.RunParallel, whose
// goroutine count is a multiple of GOMAXPROCS (2 here) and cannot be 1.
func BenchmarkAcceptParallel(b *testing.B) {
	base := inbound("TJ", "template", "birth", 6000)
	b.Logf("record: JWS %d bytes, receipt %d bytes", len(base.JWS), len(base.Receipt))
	base.Receipt = append(base.Receipt, make([]byte, 1024-len(base.Receipt)%1024)...)
	for _, batcher := range []string{"committer", "bolt.Batch-10ms", "bolt.Batch-1ms"} {
		for _, writers := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/writers=%d", batcher, writers), func(b *testing.B) {
				s := mustOpen(b, Options{Logger: nopLogger()})
				commits := func() uint64 { return s.Stats().Commits }
				switch batcher {
				case "bolt.Batch-10ms":
					commits = useBoltBatch(s, 10*time.Millisecond)
				case "bolt.Batch-1ms":
					commits = useBoltBatch(s, time.Millisecond)
				}
				ctx := context.Background()
				c0 := commits()
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range writers {
					wg.Go(func() {
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							in := base
							in.MessageID = fmt.Sprintf("w%d-%d", w, i)
							in.Digest = [32]byte{}
							if _, _, err := s.Accept(ctx, in); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				n := float64(b.N)
				cm := float64(commits() - c0)
				b.ReportMetric(n/el.Seconds(), "accepts/s")
				b.ReportMetric(cm/n, "commits/accept")
				b.ReportMetric(2*cm/n, "fsyncs/accept")
			})
		}
	}
}

// BenchmarkFsync is the machine's cost of one bbolt commit of one small
// record with fsync on: the unit the group commit amortizes.
func BenchmarkFsync(b *testing.B) {
	s := mustOpen(b, Options{Logger: nopLogger()})
	b.ResetTimer()
	for i := range b.N {
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put([]byte("bench"), u64(uint64(i))) }); err != nil {
			b.Fatal(err)
		}
	}
}
