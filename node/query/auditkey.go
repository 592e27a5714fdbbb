package query

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// AuditKeySize is the size of the query audit key: the HMAC-SHA-256 key
// under which the audit chain and the probing detector see a subject
// (SPEC §11.2: "the subject only as an HMAC-SHA-256 under a key of the
// node, never the subject itself").
const AuditKeySize = 32

// LoadOrCreateAuditKey reads the node's query audit key from path: 64
// lower-case hex digits and a line feed, mode 0600. When the file does not
// exist it is created (a new random key, written to a temporary file,
// fsynced and renamed into place) — on the node's first start, next to
// its other secrets (DataDir/query-audit.key). Losing the key loses
// nothing but the ability to link new audit entries to old ones; it is
// never sent anywhere.
func LoadOrCreateAuditKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return parseAuditKey(b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	key := make([]byte, AuditKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	if _, err := tmp.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	// Link, not rename: a key another process created meanwhile wins.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateAuditKey(path)
		}
		return nil, fmt.Errorf("query: audit key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return key, nil
}

func parseAuditKey(b []byte) ([]byte, error) {
	s := strings.TrimSuffix(string(b), "\n")
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != AuditKeySize || s != strings.ToLower(s) {
		return nil, fmt.Errorf("query: audit key: the file is not %d bytes as lower-case hex", AuditKeySize)
	}
	return key, nil
}

// subjectHMAC is the audit's name for a subject: HMAC-SHA-256 under key
// of the subject's JSON as decoded from the NFC-normalised query and
// re-encoded with sorted member names (encoding/json), hex.
func subjectHMAC(key []byte, subject any) string {
	b, err := json.Marshal(subject)
	if err != nil {
		b = nil // a decoded JSON value always marshals
	}
	return keyedHash(key, "subject\x00"+string(b))
}

func keyedHash(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}
