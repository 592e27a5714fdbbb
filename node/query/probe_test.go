package query

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/stretchr/testify/require"
)

func plain(s string) string { return s } // a transparent "hash" for the pure tests

func subjectNamed(family string, year int, idents ...string) match.Subject {
	s := match.Subject{Names: []match.Name{{Family: family, Full: "X " + family}}, BirthDate: match.Date{Year: year}}
	for _, v := range idents {
		s.Identifiers = append(s.Identifiers, match.Identifier{Scheme: "UNHCR-IND", Value: v})
	}
	return s
}

// TestDetector: SPEC §11.2 "many near-identical subjects, or identifiers
// swept in sequence, within a window".
func TestDetector(t *testing.T) {
	cfg := ProbeConfig{Window: time.Hour, NearIdentical: 3, Sweep: 3, SweepDistance: 10}
	obs := func(d *Detector, id string, s match.Subject, at time.Time) []string {
		return d.Observe("INT-UNHCR", ProbeKeys(id, s, cfg.SweepDistance, plain), at)
	}
	t.Run("near-identical/folded-family-and-year", func(t *testing.T) {
		d := NewDetector(cfg)
		require.Empty(t, obs(d, "1", subjectNamed("Karimov", 1979), t0))
		require.Empty(t, obs(d, "2", subjectNamed("KARIMOV", 1979), t0))
		require.Equal(t, []string{SignalNearIdentical}, obs(d, "3", subjectNamed("karimov", 1979), t0))
	})
	t.Run("near-identical/other-year-does-not-count", func(t *testing.T) {
		d := NewDetector(cfg)
		for i, y := range []int{1979, 1980, 1981, 1982} {
			require.Empty(t, obs(d, fmt.Sprint(i), subjectNamed("Karimov", y), t0))
		}
	})
	t.Run("window/old-queries-forgotten", func(t *testing.T) {
		d := NewDetector(cfg)
		require.Empty(t, obs(d, "1", subjectNamed("Karimov", 1979), t0))
		require.Empty(t, obs(d, "2", subjectNamed("Karimov", 1979), t0.Add(30*time.Minute)))
		require.Empty(t, obs(d, "3", subjectNamed("Karimov", 1979), t0.Add(61*time.Minute)), "the first is out of the window")
	})
	t.Run("replay/same-message-id-counts-once", func(t *testing.T) {
		d := NewDetector(cfg)
		for range 5 {
			require.Empty(t, obs(d, "same", subjectNamed("Karimov", 1979), t0))
		}
	})
	t.Run("requesters/counted-apart", func(t *testing.T) {
		d := NewDetector(cfg)
		for i := range 4 {
			require.Empty(t, d.Observe(fmt.Sprint("R", i), ProbeKeys("1", subjectNamed("Karimov", 1979), 10, plain), t0))
		}
	})
	t.Run("sweep/sequential-identifiers", func(t *testing.T) {
		d := NewDetector(cfg)
		require.Empty(t, obs(d, "1", match.Subject{Identifiers: []match.Identifier{{Scheme: "KG-PIN", Value: "20000000000118"}}}, t0))
		require.Empty(t, obs(d, "2", match.Subject{Identifiers: []match.Identifier{{Scheme: "KG-PIN", Value: "20000000000119"}}}, t0))
		require.Equal(t, []string{SignalIdentifierSweep}, obs(d, "3", match.Subject{Identifiers: []match.Identifier{{Scheme: "KG-PIN", Value: "20000000000121"}}}, t0))
	})
	t.Run("sweep/across-a-bucket-edge", func(t *testing.T) {
		d := NewDetector(cfg)
		for i, v := range []string{"118", "119"} {
			require.Empty(t, obs(d, fmt.Sprint(i), match.Subject{Identifiers: []match.Identifier{{Scheme: "OTHER", Value: v}}}, t0))
		}
		require.Equal(t, []string{SignalIdentifierSweep}, obs(d, "3", match.Subject{Identifiers: []match.Identifier{{Scheme: "OTHER", Value: "120"}}}, t0))
	})
	t.Run("sweep/far-apart-or-same-value-is-not-a-sweep", func(t *testing.T) {
		d := NewDetector(cfg)
		for i, v := range []string{"100", "500", "900", "100", "100"} {
			require.Empty(t, obs(d, fmt.Sprint(i), match.Subject{Identifiers: []match.Identifier{{Scheme: "OTHER", Value: v}}}, t0))
		}
	})
	t.Run("sweep/schemes-apart", func(t *testing.T) {
		d := NewDetector(cfg)
		for i, sc := range []string{"A", "B", "C", "D"} {
			require.Empty(t, obs(d, fmt.Sprint(i), match.Subject{Identifiers: []match.Identifier{{Scheme: sc, Value: fmt.Sprint(100 + i)}}}, t0))
		}
	})
	t.Run("sweep/non-numeric-ignored", func(t *testing.T) {
		d := NewDetector(cfg)
		for i := range 4 {
			require.Empty(t, obs(d, fmt.Sprint(i), match.Subject{Identifiers: []match.Identifier{{Scheme: "PASSPORT", Value: fmt.Sprint("AB", i)}}}, t0))
		}
	})
	t.Run("memory/bounded-per-requester", func(t *testing.T) {
		d := NewDetector(ProbeConfig{MaxPerRequester: 8, NearIdentical: 100})
		for i := range 100 {
			obs(d, fmt.Sprint(i), subjectNamed("Karimov", 1979), t0)
		}
		require.Len(t, d.per["INT-UNHCR"], 8)
	})
}

// TestProbeKeysHoldNoSubject: the detector sees keyed hashes only.
func TestProbeKeysHoldNoSubject(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	p := ProbeKeys("1", subjectNamed("Karimov", 1979, "845-00193721"), 16, func(s string) string { return keyedHash(key, s) })
	require.Len(t, p.Coarse, 1)
	require.Len(t, p.Idents, 1)
	s := fmt.Sprint(p)
	for _, leak := range []string{"Karimov", "KARIMOV", "1979", "00193721", "UNHCR"} {
		require.NotContains(t, s, leak)
	}
}

// TestLoadOrCreateAuditKey: created once (0600), read back the same; a
// malformed file is refused, never replaced.
func TestLoadOrCreateAuditKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "query-audit.key")
	k1, err := LoadOrCreateAuditKey(p)
	require.NoError(t, err)
	require.Len(t, k1, AuditKeySize)
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	k2, err := LoadOrCreateAuditKey(p)
	require.NoError(t, err)
	require.Equal(t, k1, k2)
	require.NoError(t, os.WriteFile(p, []byte("short\n"), 0o600))
	_, err = LoadOrCreateAuditKey(p)
	require.Error(t, err)
}

// TestScope is step 4 alone: the first thing out of scope is named.
func TestScope(t *testing.T) {
	req := Requester{ID: "INT-UNHCR", Countries: []string{"TJ"}, Questions: []string{"vital-status"}, Bases: []string{"vital-interest"}, Purposes: []string{"humanitarian-verification"}}
	for _, tc := range []struct {
		name, member, basis, obtained string
		questions                     []string
		purpose                       string
		detail                        string
	}{
		{"ok", "TJ", "vital-interest", "", []string{"vital-status"}, "humanitarian-verification", ""},
		{"country-first", "KZ", "legal-obligation", "", []string{"civil-status"}, "statistics", "country KZ"},
		{"question", "TJ", "legal-obligation", "", []string{"vital-status", "civil-status"}, "statistics", "question civil-status"},
		{"purpose", "TJ", "legal-obligation", "", []string{"vital-status"}, "statistics", "purpose statistics"},
		{"basis", "TJ", "legal-obligation", "", []string{"vital-status"}, "humanitarian-verification", "consent basis legal-obligation"},
		{"obtainedAt-after-createdAt", "TJ", "vital-interest", "2026-03-02T09:00:01Z", []string{"vital-status"}, "humanitarian-verification", "obtainedAt"},
		{"obtainedAt-equal-createdAt", "TJ", "vital-interest", "2026-03-02T09:00:00Z", []string{"vital-status"}, "humanitarian-verification", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := scope(req, tc.member, tc.questions, tc.purpose, tc.basis, tc.obtained, t0)
			if tc.detail == "" {
				require.Nil(t, f)
				return
			}
			require.NotNil(t, f)
			require.Contains(t, f.err.Error(), tc.detail)
		})
	}
}
