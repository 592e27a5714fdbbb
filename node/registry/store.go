package registry

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ecrn/crvsx/protocol/trust"
	bolt "go.etcd.io/bbolt"
)

// The state file (DESIGN.md §11): registry.db, bbolt, its own file. Every
// applied entry is written in ONE transaction (fsync on) together with the
// state it produced, so the applied index and the state never disagree.
//
//	bucket "state":   "snapshot"      → MarshalSnapshot of the State (holds appliedIndex)
//	                  "genesisSha256" → the pin the file was created for
//	                  "syncedAt"      → last time in sync with a leader (8 bytes, Unix ns)
//	bucket "entries": index (8 bytes BE) → raft log data of the entry (DESIGN.md §11):
//	                  the history a trust bundle (§12) and a Raft snapshot carry
//	bucket "results": index (8 bytes BE) → JSON of the entry's Result, so that
//	                  a retried command returns its original result
var (
	bucketState   = []byte("state")
	bucketEntries = []byte("entries")
	bucketResults = []byte("results")
	keySnapshot   = []byte("snapshot")
	keyPin        = []byte("genesisSha256")
	keySyncedAt   = []byte("syncedAt")
)

// stateStore is registry.db. Its methods are safe for concurrent use
// (bbolt serialises writers and lets readers run beside them).
type stateStore struct {
	db *bolt.DB
}

// loadedState is what openStateStore found.
type loadedState struct {
	state    *trust.State
	syncedAt time.Time
	maxStamp trust.Timestamp // the highest leader stamp of the stored entries
	created  bool            // the file was new: the state is the genesis state
}

// openStateStore opens or creates the state file for g. A file of another
// network refuses with ErrGenesisPin; a snapshot that does not verify with
// ErrCorruptSnapshot (the operator then removes the file and the node
// re-syncs from its peers, DESIGN.md §15).
func openStateStore(path string, g *trust.Genesis) (*stateStore, loadedState, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, loadedState{}, fmt.Errorf("registry: open %s: %w", path, err)
	}
	s := &stateStore{db: db}
	var ls loadedState
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState)
		if b == nil {
			st := trust.NewState(g)
			snap, err := trust.MarshalSnapshot(st)
			if err != nil {
				return err
			}
			if b, err = tx.CreateBucket(bucketState); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(bucketEntries); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(bucketResults); err != nil {
				return err
			}
			if err := b.Put(keyPin, []byte(g.Hash())); err != nil {
				return err
			}
			ls = loadedState{state: st, created: true, maxStamp: st.ConsensusTime()}
			return b.Put(keySnapshot, snap)
		}
		if pin := string(b.Get(keyPin)); pin != g.Hash() {
			return fmt.Errorf("%w: %s belongs to network %q, this node pins %s", trust.ErrGenesisPin, path, pin, g.Hash())
		}
		if tx.Bucket(bucketEntries) == nil || tx.Bucket(bucketResults) == nil {
			return fmt.Errorf("%w: %s: missing buckets", trust.ErrCorruptSnapshot, path)
		}
		st, err := trust.RestoreSnapshot(bytes.Clone(b.Get(keySnapshot)), g)
		if err != nil {
			return fmt.Errorf("registry: %s: %w", path, err)
		}
		ls.state, ls.maxStamp = st, st.ConsensusTime()
		if v := b.Get(keySyncedAt); len(v) == 8 {
			ls.syncedAt = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		}
		if k, v := tx.Bucket(bucketEntries).Cursor().Last(); k != nil {
			if binary.BigEndian.Uint64(k) != st.AppliedIndex() {
				return fmt.Errorf("%w: %s: last entry %d, applied index %d", trust.ErrCorruptSnapshot, path, binary.BigEndian.Uint64(k), st.AppliedIndex())
			}
			if e, ok := decodeStoredEntry(k, v); ok && e.Time > ls.maxStamp {
				ls.maxStamp = e.Time
			}
		} else if st.AppliedIndex() != 0 {
			return fmt.Errorf("%w: %s: no entries, applied index %d", trust.ErrCorruptSnapshot, path, st.AppliedIndex())
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, loadedState{}, err
	}
	return s, ls, nil
}

func (s *stateStore) close() error { return s.db.Close() }

func indexKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// saveApply persists one applied entry: the new state, its entry and its
// result, in one transaction.
func (s *stateStore) saveApply(snap []byte, e trust.Entry, res trust.Result, syncedAt time.Time) error {
	rj, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		k := indexKey(e.Index)
		if err := tx.Bucket(bucketEntries).Put(k, encodeLogData(e.Time, e.Data)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketResults).Put(k, rj); err != nil {
			return err
		}
		b := tx.Bucket(bucketState)
		if !syncedAt.IsZero() {
			if err := b.Put(keySyncedAt, binary.BigEndian.AppendUint64(nil, uint64(syncedAt.UnixNano()))); err != nil {
				return err
			}
		}
		return b.Put(keySnapshot, snap)
	})
}

// saveRestore replaces everything with an installed snapshot: the state,
// the full history and the results of its replay, in one transaction.
func (s *stateStore) saveRestore(snap []byte, entries []trust.Entry, results []trust.Result) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketEntries, bucketResults} {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return err
			}
		}
		eb, err := tx.CreateBucket(bucketEntries)
		if err != nil {
			return err
		}
		rb, err := tx.CreateBucket(bucketResults)
		if err != nil {
			return err
		}
		for i, e := range entries {
			k := indexKey(e.Index)
			if err := eb.Put(k, encodeLogData(e.Time, e.Data)); err != nil {
				return err
			}
			rj, err := json.Marshal(results[i])
			if err != nil {
				return err
			}
			if err := rb.Put(k, rj); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketState).Put(keySnapshot, snap)
	})
}

// saveSyncedAt records the last time the node was in sync with a leader.
func (s *stateStore) saveSyncedAt(t time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).Put(keySyncedAt, binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
	})
}

// result returns the stored Result of the entry at index.
func (s *stateStore) result(index uint64) (trust.Result, bool, error) {
	var res trust.Result
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketResults).Get(indexKey(index))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &res)
	})
	return res, found, err
}

// entry returns the stored entry at index.
func (s *stateStore) entry(index uint64) (trust.Entry, bool, error) {
	var e trust.Entry
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		k := indexKey(index)
		v := tx.Bucket(bucketEntries).Get(k)
		if v == nil {
			return nil
		}
		var ok bool
		if e, ok = decodeStoredEntry(k, v); !ok {
			return fmt.Errorf("%w: stored entry %d", trust.ErrCorruptSnapshot, index)
		}
		found = true
		return nil
	})
	return e, found, err
}

// entries returns the stored entries with index ≤ upTo, in order.
func (s *stateStore) entries(upTo uint64) ([]trust.Entry, error) {
	var out []trust.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntries).Cursor()
		for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= upTo; k, v = c.Next() {
			e, ok := decodeStoredEntry(k, v)
			if !ok {
				return fmt.Errorf("%w: stored entry %d", trust.ErrCorruptSnapshot, binary.BigEndian.Uint64(k))
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func decodeStoredEntry(k, v []byte) (trust.Entry, bool) {
	if len(k) != 8 || len(v) < logHeaderLen || v[0] != logVersion {
		return trust.Entry{}, false
	}
	return trust.Entry{Index: binary.BigEndian.Uint64(k), Time: trust.Timestamp(int64(binary.BigEndian.Uint64(v[1:9]))), Data: bytes.Clone(v[logHeaderLen:])}, true
}
