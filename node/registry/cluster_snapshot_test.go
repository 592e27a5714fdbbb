package registry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/crc64"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/protocol/trust"
)

// corruptNewestSnapshot changes one byte of the state part of the newest
// Raft snapshot in dir and rewrites raft's own CRC in meta.json, so that the
// file store serves it and only the registry's checks can refuse it: what a
// corruption in transfer, or an edit by someone who knows the file format,
// looks like.
func corruptNewestSnapshot(t *testing.T, dir string) {
	t.Helper()
	metas, err := filepath.Glob(filepath.Join(dir, registry.SnapshotsDirName, "*", "meta.json"))
	if err != nil || len(metas) == 0 {
		t.Fatalf("no snapshot in %s: %v", dir, err)
	}
	index := func(path string) float64 {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Index float64 }
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m.Index
	}
	sort.Slice(metas, func(i, j int) bool { return index(metas[i]) < index(metas[j]) })
	state := filepath.Join(filepath.Dir(metas[len(metas)-1]), "state.bin")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("Civil registry of TJ"))
	if i < 0 {
		t.Fatal("member name not found in the snapshot")
	}
	b[i] = 'K' // "Kivil registry of TJ": a forged name
	if err := os.WriteFile(state, b, 0o600); err != nil {
		t.Fatal(err)
	}
	metaPath := filepath.Join(filepath.Dir(state), "meta.json")
	raw, err := os.ReadFile(metaPath)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(b)
	meta["CRC"] = h.Sum(nil) // []byte: JSON base64, as raft writes it
	raw, err = json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(metaPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A corrupted snapshot is refused with ErrCorruptSnapshot wherever it shows
// up, and no node ever runs on a wrong state:
//   - sent by the leader to a lagging node: refused, the node keeps its
//     state, and catches up from the next good snapshot;
//   - a corrupt registry.db: the node does not start;
//   - a removed registry.db: the node re-syncs from its newest raft
//     snapshot — unless that one is corrupt: then it does not start.
func TestCorruptSnapshotRefused(t *testing.T) {
	c := newCluster(t, func(cfg *registry.Config) { cfg.TrailingLogs = 2 })
	l := c.leader()
	kg := c.node("KG-N1")
	before := c.lagBehindSnapshot(l, kg, 9)
	corruptNewestSnapshot(t, l.dir)
	c.heal()
	waitUntil(t, 15*time.Second, "the lagging node refuses the corrupt snapshot", func() error {
		if err := kg.must().Status().SnapshotError; !errors.Is(err, trust.ErrCorruptSnapshot) {
			return errors.New("not refused yet")
		}
		return nil
	})
	st := kg.must().Status()
	if st.AppliedIndex != before.AppliedIndex || st.StateHash != before.StateHash || st.SnapshotsRestored != 0 {
		t.Fatalf("after refusing: %s at %d/%s, restored %d; want its previous state %d/%s", kg.id, st.AppliedIndex, shortHash(st.StateHash), st.SnapshotsRestored, before.AppliedIndex, shortHash(before.StateHash))
	}
	t.Logf("%s refused: %v", kg.id, st.SnapshotError)

	// The leader's next snapshot is sound: the node installs it.
	data, _ := c.registerNode("KZ", 2)
	l.mustSubmit(data, trust.OutcomeAccepted)
	if err := l.must().SnapshotNow(); err != nil {
		t.Fatal(err)
	}
	good := c.converged(c.nodes...)
	if st := kg.must().Status(); st.SnapshotsRestored == 0 {
		t.Fatalf("%s converged without a snapshot", kg.id)
	}

	// A corrupt registry.db stops the node.
	kg.kill()
	dbPath := filepath.Join(kg.dir, registry.StateFileName)
	db, err := bolt.Open(dbPath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("state"))
		v := bytes.Clone(b.Get([]byte("snapshot")))
		i := bytes.Index(v, []byte("Civil registry of TJ"))
		if i < 0 {
			return errors.New("member name not in the state file")
		}
		v[i] = 'K'
		return b.Put([]byte("snapshot"), v)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if r, _, err := kg.open(); !errors.Is(err, trust.ErrCorruptSnapshot) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("open with a corrupt state file: %v, want ErrCorruptSnapshot", err)
	}

	// Without registry.db, the node re-syncs from its newest raft
	// snapshot on disk, verified, before Raft runs.
	if err := os.Remove(dbPath); err != nil {
		t.Fatal(err)
	}
	kg.start()
	if st := kg.must().Status(); st.AppliedIndex == 0 || st.AppliedIndex > good.AppliedIndex {
		t.Fatalf("re-synced from the snapshot at %d (cluster at %d)", st.AppliedIndex, good.AppliedIndex)
	}
	c.converged(c.nodes...)

	// ... and refuses to start if that snapshot is corrupt.
	kg.kill()
	if err := os.Remove(dbPath); err != nil {
		t.Fatal(err)
	}
	corruptNewestSnapshot(t, kg.dir)
	if r, _, err := kg.open(); !errors.Is(err, trust.ErrCorruptSnapshot) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("open with no state file and a corrupt snapshot: %v, want ErrCorruptSnapshot", err)
	}
}
