package qr_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/protocol/attest/qr"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpus")

func corpusFile(b []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
}

const seedToken = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"

// pngCorpus: a small QR code, its PNG cut short, and not a PNG.
func pngCorpus(tb testing.TB) map[string][]byte {
	code, err := qr.Encode([]byte(seedToken), qr.LevelM)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := code.PNG(2)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string][]byte{
		"ok-small-code":  corpusFile(b),
		"fail-cut-short": corpusFile(b[:len(b)/2]),
		"fail-not-png":   corpusFile([]byte("GIF89a")),
	}
}

// TestFuzzCorpusIsCurrent keeps the committed seeds (run with -update to
// rewrite them). The PNG encoder's bytes may change with Go's zlib, so
// the check is what the seeds mean: the good one decodes to its token.
func TestFuzzCorpusIsCurrent(t *testing.T) {
	files := pngCorpus(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodePNG")
	if *update {
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range files {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s missing (%v): go test -run TestFuzzCorpusIsCurrent -update ./protocol/attest/qr/", name, err)
		}
		const head = "go test fuzz v1\n[]byte("
		q := strings.TrimSuffix(strings.TrimPrefix(string(raw), head), ")\n")
		file, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := qr.DecodePNG([]byte(file))
		if ok := strings.HasPrefix(name, "ok-"); ok != (err == nil) || ok && string(data) != seedToken {
			t.Fatalf("%s: %q, %v", name, data, err)
		}
	}
}

// FuzzDecodePNG: DecodePNG never panics, and what it returns is at most
// the largest QR code's capacity.
func FuzzDecodePNG(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) {
		data, err := qr.DecodePNG(file)
		if err == nil && len(data) > qr.Capacity(qr.LevelL) {
			t.Fatalf("%d bytes from one QR code", len(data))
		}
	})
}
