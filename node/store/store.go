package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the store's file in the node's data directory.
const FileName = "node.db"

// Options configure Open. The zero value is the production setting.
type Options struct {
	// NoSync skips fdatasync on commit: for tests and benchmarks only. A
	// crash may then lose acknowledged writes.
	NoSync bool
	// MaxBatchDelay is how long the committer waits for more operations
	// after the first of a batch; 0 (the default) commits what is queued at
	// once, and batches form while the previous commit is in fdatasync.
	MaxBatchDelay time.Duration
	// MaxBatchSize bounds the operations in one commit; 0 means 256.
	MaxBatchSize int
	// ReadOnly opens the file with a shared lock and refuses writes
	// (ErrUnavailable): for checking backups and inspection.
	ReadOnly bool
	// Logger receives commit failures and warnings; nil discards.
	Logger *slog.Logger
	// Now is the clock for times the caller leaves zero; nil is time.Now.
	Now func() time.Time
	// FullProbeInterval is how often, while the volume is full (Full), the
	// committer tries a small write to learn that space has returned
	// (DESIGN.md §6); 0 means 5 s.
	FullProbeInterval time.Duration
	// CommitFault, if set, is called before every commit; a non-nil error
	// fails that commit as bbolt fails it — the transaction is rolled back
	// and the error returned — so that tests and the node's fault tests can
	// make a running store meet ENOSPC (DESIGN.md §6). Production leaves
	// it nil.
	CommitFault func() error
}

// Store is the node's persistent state. It is safe for concurrent use; all
// writes go through one committer goroutine (DESIGN.md §5).
type Store struct {
	db     *bolt.DB
	path   string
	log    *slog.Logger
	now    func() time.Time
	ro     bool
	commit *committer

	// submit runs a write operation; the committer's by default. Tests swap
	// in DB.Batch to compare the two.
	submit func(ctx context.Context, size int, fn func(*wtx) error) error

	// durable is the id of the last transaction known to be on disk; reads
	// of a newer state wait for it (DESIGN.md §4, last paragraph).
	durable   atomic.Uint64
	durableMu sync.Mutex
	durableCh chan struct{} // closed and replaced when durable advances

	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the store file at path (DESIGN.md §1) and checks
// its format (§9).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	bo := &bolt.Options{
		Timeout:         time.Second,
		NoGrowSync:      false,
		NoFreelistSync:  false,
		FreelistType:    bolt.FreelistArrayType,
		InitialMmapSize: 256 << 20,
		ReadOnly:        opts.ReadOnly,
	}
	db, err := bolt.Open(path, 0o600, bo)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.NoSync = opts.NoSync
	if opts.NoSync {
		log.Warn("store: fsync is off; a crash may lose acknowledged writes", slog.String("path", path))
	}
	s := &Store{db: db, path: path, log: log, now: now, ro: opts.ReadOnly, durableCh: make(chan struct{})}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	var txid int
	if err := db.View(func(tx *bolt.Tx) error { txid = tx.ID(); return nil }); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.durable.Store(uint64(txid))
	// The audit head, logged where operators keep it, is what a truncated
	// and rewritten chain is checked against (DESIGN.md §7).
	var head [32]byte
	var entries uint64
	if err := db.View(func(tx *bolt.Tx) error { var e error; entries, head, e = readHead(tx); return e }); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	log.Info("store: opened", slog.String("path", path), slog.Bool("readOnly", opts.ReadOnly),
		slog.Uint64("auditEntries", entries), slog.String("auditHead", hex.EncodeToString(head[:])))
	if !opts.ReadOnly {
		size := opts.MaxBatchSize
		if size <= 0 {
			size = 256
		}
		s.commit = newCommitter(s, size, opts.MaxBatchDelay)
		if opts.FullProbeInterval > 0 {
			s.commit.probeEvery = opts.FullProbeInterval
		}
		if fault := opts.CommitFault; fault != nil {
			s.commit.commitTx = func(tx *bolt.Tx) error {
				if err := fault(); err != nil {
					_ = tx.Rollback()
					return err
				}
				return tx.Commit()
			}
		}
		s.submit = s.commit.do
	} else {
		s.submit = func(context.Context, int, func(*wtx) error) error {
			return fmt.Errorf("%w: opened read-only", ErrUnavailable)
		}
	}
	return s, nil
}

// init creates the buckets of a new file or checks an existing one.
func (s *Store) init() error {
	if s.ro {
		return s.db.View(func(tx *bolt.Tx) error { return checkLayout(tx) })
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		if meta == nil {
			// A new file. A bbolt file with other buckets is someone
			// else's (the registry's, say): never write into it.
			if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				return corruptf("%s is a bbolt file of something else (bucket %q)", s.path, name)
			}); err != nil {
				return err
			}
			for _, name := range allBuckets {
				if _, err := tx.CreateBucket(name); err != nil {
					return fmt.Errorf("store: create bucket %s: %w", name, err)
				}
			}
			meta = tx.Bucket(bktMeta)
			var f [4]byte
			binary.BigEndian.PutUint32(f[:], formatVersion1)
			if err := meta.Put(keyFormat, f[:]); err != nil {
				return err
			}
			if err := meta.Put(keyCreated, []byte(s.now().UTC().Format(time.RFC3339Nano))); err != nil {
				return err
			}
			return createRecordBuckets(tx)
		}
		if err := checkLayout(tx); err != nil {
			return err
		}
		return createRecordBuckets(tx)
	})
}

func checkLayout(tx *bolt.Tx) error {
	meta := tx.Bucket(bktMeta)
	if meta == nil {
		return corruptf("no meta bucket (not a crvsx store file?)")
	}
	f := meta.Get(keyFormat)
	if len(f) != 4 {
		return corruptf("no format number")
	}
	switch v := binary.BigEndian.Uint32(f); {
	case v > formatVersion1:
		return fmt.Errorf("%w: file format %d was written by a newer crvsx (this one reads %d)", ErrUnavailable, v, formatVersion1)
	case v < formatVersion1:
		return corruptf("file format %d is unknown", v)
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return corruptf("bucket %s is missing", name)
		}
	}
	return nil
}

// Close stops the committer after it has committed what is queued, then
// closes the file. Later calls fail with ErrUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.commit != nil {
			s.commit.close()
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Path is the store file.
func (s *Store) Path() string { return s.path }

// Failed reports the commit failure that poisoned the store, or nil
// (DESIGN.md §6). A node reports not-ready while it is non-nil.
func (s *Store) Failed() error {
	if s.commit == nil {
		return nil
	}
	return s.commit.failure()
}

// CommitStats counts the committer's work since Open.
type CommitStats struct {
	Commits uint64 // transactions committed (each: two fdatasyncs in bbolt, pages then meta)
	Ops     uint64 // write operations in those commits
	Solo    uint64 // batches re-run one operation at a time after an abort
	Empty   uint64 // batches rolled back because nothing was written
}

// Stats returns the committer's counters. No I/O.
func (s *Store) Stats() CommitStats {
	if s.commit == nil {
		return CommitStats{}
	}
	return s.commit.stats()
}

// markDurable records that transaction id is on disk and wakes readers
// waiting for it.
func (s *Store) markDurable(id uint64) {
	s.durableMu.Lock()
	if id > s.durable.Load() {
		s.durable.Store(id)
		close(s.durableCh)
		s.durableCh = make(chan struct{})
	}
	s.durableMu.Unlock()
}

func (s *Store) durableWait() <-chan struct{} {
	s.durableMu.Lock()
	defer s.durableMu.Unlock()
	return s.durableCh
}

// view runs fn in a read transaction that sees only durable state.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		wait := s.durableWait()
		tx, err := s.db.Begin(false)
		if err != nil {
			if errors.Is(err, bolt.ErrDatabaseNotOpen) {
				return fmt.Errorf("%w: closed", ErrUnavailable)
			}
			return fmt.Errorf("store: begin read: %w", err)
		}
		if uint64(tx.ID()) <= s.durable.Load() {
			err = fn(tx)
			_ = tx.Rollback()
			return err
		}
		// A commit's meta page is written but its fdatasync has not
		// returned: wait for it rather than serve a state a power cut could
		// still undo.
		_ = tx.Rollback()
		if f := s.Failed(); f != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, f)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // the committer may be poisoned meanwhile
		}
	}
}

// write runs fn as one write operation and returns once it is durable.
func (s *Store) write(ctx context.Context, size int, fn func(*wtx) error) error {
	return s.submit(ctx, size, fn)
}

// wtx is the write transaction an operation sees. Its put/del mark the
// transaction dirty and turn a bbolt write failure into an abort of the
// batch (DESIGN.md §5).
type wtx struct {
	tx    *bolt.Tx
	now   func() time.Time
	dirty bool
}

// txAbort is a write failure inside an operation: the batch is rolled back
// and re-run one operation at a time.
type txAbort struct{ err error }

func (a *txAbort) Error() string { return "store: write failed: " + a.err.Error() }
func (a *txAbort) Unwrap() error { return a.err }

func (w *wtx) bucket(name []byte) *bolt.Bucket { return w.tx.Bucket(name) }

func (w *wtx) put(bucket, k, v []byte) error {
	if err := w.tx.Bucket(bucket).Put(k, v); err != nil {
		return &txAbort{fmt.Errorf("put %s: %w", bucket, err)}
	}
	w.dirty = true
	return nil
}

func (w *wtx) del(bucket, k []byte) error {
	if err := w.tx.Bucket(bucket).Delete(k); err != nil {
		return &txAbort{fmt.Errorf("delete %s: %w", bucket, err)}
	}
	w.dirty = true
	return nil
}

func (w *wtx) nextSeq(bucket []byte) (uint64, error) {
	n, err := w.tx.Bucket(bucket).NextSequence()
	if err != nil {
		return 0, &txAbort{fmt.Errorf("sequence %s: %w", bucket, err)}
	}
	w.dirty = true
	return n, nil
}

func (w *wtx) addCounter(key []byte, delta int64) error {
	cur, _ := getU64(w.tx.Bucket(bktMeta).Get(key))
	n := int64(cur) + delta
	if n < 0 {
		return &txAbort{corruptf("counter %s would go below zero", key)}
	}
	return w.put(bktMeta, key, u64(uint64(n)))
}

// Counts are the store's counters for metrics.
type Counts struct {
	Inbox     uint64 // inbound messages accepted (the last inbox seq)
	Rejected  uint64 // refusals recorded with AuditReject
	Queued    uint64 // outbound deliveries pending
	Delivered uint64 // outbound deliveries with a receipt
	Dead      uint64 // outbound deliveries dead-lettered
	Audit     uint64 // audit entries
}

// Counts reads the counters in one read transaction.
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	err := s.view(ctx, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		c.Inbox = tx.Bucket(bktInbox).Sequence()
		c.Rejected, _ = getU64(meta.Get(keyNRejected))
		c.Queued, _ = getU64(meta.Get(keyNPending))
		c.Delivered, _ = getU64(meta.Get(keyNDelivered))
		c.Dead, _ = getU64(meta.Get(keyNDead))
		head, _, err := readHead(tx)
		c.Audit = head
		return err
	})
	if err != nil {
		return Counts{}, fmt.Errorf("store: counts: %w", err)
	}
	return c, nil
}

// cloneBytes copies a value out of a transaction (bbolt's memory is only
// valid inside it).
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// ctxWriter fails a long copy once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
