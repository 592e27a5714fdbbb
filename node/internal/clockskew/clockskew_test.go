package clockskew

import (
	"testing"
	"time"
)

// TestEstimate: the package doc's rules, one row each.
func TestEstimate(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	type obs struct {
		peer string
		off  time.Duration // local minus peer
		ago  time.Duration
	}
	m := time.Minute
	for _, tc := range []struct {
		name   string
		obs    []obs
		level  Level
		offset time.Duration
		reason string
	}{
		{"unknown/no-samples", nil, Unknown, 0, ""},
		{"unknown/one-peer-once", []obs{{"TJ", 10 * m, 0}}, Unknown, 0, ""},
		{"unknown/one-peer-twice", []obs{{"TJ", 10 * m, 0}, {"TJ", 10 * m, 0}}, Unknown, 0, ""},
		{"off/one-peer-three-times", []obs{{"TJ", 10 * m, 0}, {"TJ", 10 * m, 0}, {"TJ", 10*m + time.Second, 0}}, Off, 10 * m, "clock off by +10m0s against 1 peer"},
		{"off/two-peers-ahead", []obs{{"TJ", 10 * m, 0}, {"KZ", 10*m + 2*time.Second, 0}}, Off, 10*m + time.Second, "clock off by +10m1s against 2 peers"},
		{"off/two-peers-behind", []obs{{"TJ", -10 * m, 0}, {"KZ", -10 * m, 0}}, Off, -10 * m, "clock off by -10m0s against 2 peers"},
		{"warn/past-half-the-threshold", []obs{{"TJ", 3 * m, 0}, {"KZ", 3 * m, 0}}, Warn, 3 * m, "clock drifting by +3m0s against 2 peers"},
		{"ok/within-half", []obs{{"TJ", time.Second, 0}, {"KZ", -time.Second, 0}}, OK, 0, ""},
		{"ok/one-peer-agrees-with-us", []obs{{"TJ", 10 * m, 0}, {"KZ", 0, 0}}, OK, 5 * m, ""},
		{"unknown/peers-disagree-on-the-sign", []obs{{"TJ", 10 * m, 0}, {"KZ", -10 * m, 0}}, Unknown, 0, ""},
		{"off/median-ignores-one-outlier-sample", []obs{{"TJ", 10 * m, 0}, {"TJ", 0, 0}, {"TJ", 10 * m, 0}}, Off, 10 * m, "clock off by +10m0s against 1 peer"},
		{"unknown/old-samples-forgotten", []obs{{"TJ", 10 * m, 2 * time.Hour}, {"KZ", 10 * m, 2 * time.Hour}}, Unknown, 0, ""},
		{"ok/newest-samples-win", []obs{{"TJ", 10 * m, 0}, {"TJ", 10 * m, 0}, {"TJ", 0, 0}, {"TJ", 0, 0}, {"TJ", 0, 0}, {"TJ", 0, 0}, {"TJ", 0, 0}}, OK, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Estimator{Threshold: 5 * m}
			for _, o := range tc.obs {
				local := t0.Add(-o.ago)
				e.Observe(o.peer, local, local.Add(-o.off))
			}
			got := e.Estimate(t0)
			if got.Level != tc.level || got.Offset != tc.offset {
				t.Fatalf("got %v %v, want %v %v (%+v)", got.Level, got.Offset, tc.level, tc.offset, got)
			}
			if tc.reason != "" && got.Reason() != tc.reason {
				t.Fatalf("reason %q, want %q", got.Reason(), tc.reason)
			}
		})
	}
}
