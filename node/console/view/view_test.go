package view

import (
	"bytes"
	"encoding/base64"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node/registry"
	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/protocol/trust/trusttest"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// Issue 12: the calendar warns 60, 30 and 7 days ahead.
func TestExpiryCalendarWarnsAt60And30And7Days(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name    string
		left    time.Duration
		warning string
		days    int
	}{
		{"61 days: no warning", 61 * day, WarnNone, 61},
		{"60 days: 60-day warning", 60 * day, Warn60Days, 60},
		{"31 days: 60-day warning", 31 * day, Warn60Days, 31},
		{"30 days: 30-day warning", 30 * day, Warn30Days, 30},
		{"8 days: 30-day warning", 8 * day, Warn30Days, 8},
		{"7 days: 7-day warning", 7 * day, Warn7Days, 7},
		{"one second: 7-day warning", time.Second, Warn7Days, 0},
		{"0 days: expired", 0, WarnExpired, 0},
		{"past: expired", -day, WarnExpired, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, d := ExpiryWarning(now.Add(tc.left), now)
			require.Equal(t, tc.warning, w)
			require.Equal(t, tc.days, d)
			require.Contains(t, MessageKeys, w)
		})
	}
}

func TestFormatTimeCarriesItsOffset(t *testing.T) {
	tashkent := time.FixedZone("UZT", 5*3600)
	require.Equal(t, "2026-06-01 17:00:00 +05:00", FormatTime(now, tashkent))
	require.Equal(t, "2026-06-01 12:00:00 +00:00", FormatTime(now, nil))
	require.Equal(t, "", FormatTime(time.Time{}, nil))
}

// Every key a view model can produce is in MessageKeys (so the catalogue
// test covers it), and every default text is non-empty but WarnNone's.
func TestMessageKeysComplete(t *testing.T) {
	for k, v := range MessageKeys {
		if k != WarnNone {
			require.NotEmpty(t, v, k)
		}
		if strings.HasPrefix(k, "key.event.") && !strings.HasSuffix(k, ".meaning") {
			require.Contains(t, MessageKeys, k+".meaning")
		}
	}
	for _, k := range []string{store.EventAccepted, store.EventAttemptFailed, store.EventDelivered, store.EventDead,
		store.EventRetried, store.EventReceived, store.EventReceiptSent, store.EventAcknowledged, store.EventRefused} {
		require.Contains(t, MessageKeys, "timeline.event."+k)
	}
	for _, d := range []string{store.DirectionOut, store.DirectionIn, store.DirectionRefused} {
		require.Contains(t, MessageKeys, "timeline.direction."+d)
	}
	for _, s := range []string{"pending", "delivered", "dead", "accepted", "refused"} {
		require.Contains(t, MessageKeys, "timeline.state."+s)
	}
	for _, s := range []string{trust.StatusActive, trust.StatusSuspended, trust.StatusWithdrawn} {
		require.Contains(t, MessageKeys, "member.status."+s)
		require.Contains(t, MessageKeys, "requester.status."+s)
	}
	for _, s := range []string{trust.KeyActive, trust.KeyRetired, trust.KeyRevoked} {
		require.Contains(t, MessageKeys, "key.status."+s)
	}
	for _, r := range []string{registry.RaftLeader, registry.RaftFollower, registry.RaftCandidate, registry.RaftShutdown} {
		require.Contains(t, MessageKeys, "registry.role."+r)
	}
	require.Len(t, SortedKeys(), len(MessageKeys))
}

// REGISTRY.md §6: required = threshold over active members; an approval
// counts when its member is active and its key valid at the approval's
// time; who may still approve: active members without a counting
// approval, with a governance key valid now.
func TestProposalMissingApprovals(t *testing.T) {
	n := trusttest.New(t, "TJ", "TR", "KZ", "UZ")
	s := n.State()
	c := n.Command(trust.CmdMemberSuspend, "TJ", trust.SuspendArgs{Member: "UZ", Reason: "audit"}) // ⌈4·2/3⌉ = 3
	c.Propose = true
	s = n.MustApply(s, n.Sign(c, n.Member("TJ").Gov), trust.OutcomeProposed)
	p, _ := s.Proposal(c.ID)
	at := p.CreatedAt.Time()

	row := BuildOverview(s, registry.Status{}, at).Proposals[0]
	require.Equal(t, 3, row.Required)
	require.Equal(t, 1, row.Counted)
	require.Equal(t, 2, row.Missing)
	require.Equal(t, "proposal.missing", row.StateKey)
	require.Equal(t, []string{"KZ", "TR", "UZ"}, approvers(row))

	// TJ's governance key turns out compromised before it proposed: its
	// approval no longer counts; TJ may approve again with its new key only.
	tj := n.Member("TJ")
	g2 := n.NewKey("TJ", jws.AlgES256)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyAdd, "TR", trust.KeyAddArgs{Member: "TJ", Key: n.Spec(g2, trust.RoleGovernance, n.Now)}), append(n.Gov("TR", "KZ", "UZ"), g2)...), trust.OutcomeAccepted)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdKeyRevoke, "TR", trust.KeyRevokeArgs{Kid: tj.Gov.Kid(), Reason: trust.RevokeCompromised, CompromisedSince: p.CreatedAt - 1}), n.Gov("TR", "KZ", "UZ")...), trust.OutcomeAccepted)
	s = n.MustApply(s, n.Sign(n.Command(trust.CmdProposalApprove, "TR", trust.ApproveArgs{Proposal: p.ID, PayloadSHA256: p.PayloadSHA256}), n.Gov("TR")...), trust.OutcomeApproved)
	row = BuildOverview(s, registry.Status{}, n.Now.Time()).Proposals[0]
	require.Equal(t, 3, row.Required)
	require.Equal(t, 1, row.Counted, "TR counts; TJ's compromised approval does not")
	require.Equal(t, 2, row.Missing)
	require.Equal(t, []bool{false, true}, []bool{row.Approvals[0].Counts, row.Approvals[1].Counts})
	require.Equal(t, "proposal.approval.not-counted", row.Approvals[0].CountsKey)
	require.Equal(t, []string{"KZ", "TJ", "UZ"}, approvers(row))
	for _, a := range row.MayApprove {
		if a.Member == "TJ" {
			require.Equal(t, []string{g2.Kid()}, a.Kids, "never the revoked key")
		}
	}

	// Expired: nobody may approve any more.
	row = BuildOverview(s, registry.Status{}, p.ExpiresAt.Time()).Proposals[0]
	require.True(t, row.Expired)
	require.Equal(t, "proposal.expired", row.StateKey)
	require.Empty(t, row.MayApprove)
}

func approvers(r ProposalRow) []string {
	var out []string
	for _, a := range r.MayApprove {
		out = append(out, a.Member)
	}
	return out
}

// The key history spells out the time semantics (REGISTRY.md §10).
func TestKeyHistoryWords(t *testing.T) {
	ts := func(d int) trust.Timestamp { return trust.TimestampOf(now.Add(time.Duration(d) * 24 * time.Hour)) }
	kinds := func(ev []KeyEvent) []string {
		var out []string
		for _, e := range ev {
			out = append(out, e.Kind)
			require.Equal(t, e.Kind+".meaning", e.Meaning)
			require.Contains(t, MessageKeys, e.Meaning)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		key  trust.Key
		want []string
	}{
		{"active", trust.Key{Status: trust.KeyActive, AddedAt: ts(-10), NotBefore: ts(-10), NotAfter: ts(100)},
			[]string{KeyEventAdded, KeyEventValidFrom, KeyEventExpires}},
		{"retired: messages before remain valid", trust.Key{Status: trust.KeyRetired, AddedAt: ts(-10), NotBefore: ts(-10), NotAfter: ts(100), RetiredAt: ts(-2)},
			[]string{KeyEventAdded, KeyEventValidFrom, KeyEventRetired, KeyEventExpires}},
		{"revoked-compromised since T", trust.Key{Status: trust.KeyRevoked, AddedAt: ts(-10), NotBefore: ts(-10), NotAfter: ts(100), CompromisedSince: ts(-5), RevokedAt: ts(-1)},
			[]string{KeyEventAdded, KeyEventValidFrom, KeyEventRevokedCompromised, KeyEventExpires}},
		{"expired", trust.Key{Status: trust.KeyActive, AddedAt: ts(-400), NotBefore: ts(-400), NotAfter: ts(-1)},
			[]string{KeyEventAdded, KeyEventValidFrom, KeyEventExpired}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := KeyEvents(tc.key, now)
			require.Equal(t, tc.want, kinds(ev))
			if tc.key.Status == trust.KeyRevoked {
				require.Equal(t, tc.key.CompromisedSince.Time(), ev[2].At, "since = compromisedSince, not the revocation time")
				require.True(t, ev[2].Since)
				require.Contains(t, MessageKeys[KeyEventRevokedCompromised+".meaning"], "at or after {0} are refused")
			}
			if tc.key.RetiredAt != 0 {
				require.Equal(t, tc.key.RetiredAt.Time(), ev[2].At)
				require.Contains(t, MessageKeys[KeyEventRetired+".meaning"], "created before {0} remain valid")
			}
		})
	}
}

func TestOverviewAndMemberPage(t *testing.T) {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	s := n.State()
	st := registry.Status{NodeID: "TJ-1", Role: registry.RaftFollower, Leader: registry.Leader{ID: "TR-1"}, AppliedIndex: 7,
		SyncedAt: now, Staleness: 2 * time.Second, StalenessBound: time.Minute,
		Servers: []registry.Server{{ID: "TJ-1", Suffrage: trust.RoleVoter}, {ID: "TR-1", Suffrage: trust.RoleVoter}}}
	o := BuildOverview(s, st, now)
	require.Len(t, o.Members, 3)
	require.Equal(t, "member.status.active", o.Members[0].StatusKey)
	require.Equal(t, "registry.fresh", o.Registry.FreshnessKey)
	require.Equal(t, "registry.role.follower", o.Registry.RoleKey)
	require.Equal(t, []Replica{
		{ID: "TJ-1", Suffrage: trust.RoleVoter, SuffrageKey: "node.role.voter", Self: true, Known: true, AppliedIndex: 7, Staleness: 2 * time.Second},
		{ID: "TR-1", Suffrage: trust.RoleVoter, SuffrageKey: "node.role.voter", Leader: true, UnknownKey: "registry.replica.unknown"},
	}, o.Registry.Replicas)
	require.Len(t, o.Keys, 6, "a governance and a signing key per member")
	for i := 1; i < len(o.Keys); i++ {
		require.False(t, o.Keys[i].NotAfter.Before(o.Keys[i-1].NotAfter), "soonest expiry first")
	}
	o = BuildOverview(s, registry.Status{}, now)
	require.Equal(t, "registry.never-synced", o.Registry.FreshnessKey)
	require.Equal(t, "registry.no-leader", o.Registry.LeaderKey)

	rep := &store.TrafficReport{Since: now.Add(-time.Hour), Until: now, Receipts: []int{2}, Dead: []int{1}, Refused: []int{3},
		Out: []store.TrafficSeries{{Peer: "TJ-1", Country: "TJ", Type: "event.death", Counts: []int{3}, Total: 3}}}
	m, err := BuildMember(s, "TJ", rep, now)
	require.NoError(t, err)
	require.Len(t, m.Keys, 2)
	require.Equal(t, MemberTraffic{Since: rep.Since, Until: now, Sent: 3, Receipts: 2, Dead: 1, Refused: 3, Out: rep.Out}, m.Traffic)
	_, err = BuildMember(s, "XX", nil, now)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestBuildTrafficAndMessage(t *testing.T) {
	rep := &store.TrafficReport{Since: now.Add(-2 * time.Hour), Until: now, Bucket: time.Hour, Buckets: 2,
		Out:      []store.TrafficSeries{{Peer: "TJ-1", Type: "event.death", Counts: []int{1, 2}, Total: 3}},
		In:       []store.TrafficSeries{{Peer: "UZ-1", Counts: []int{0, 1}, Total: 1}},
		Receipts: []int{1, 1}, Failed: []int{0, 4}, Dead: []int{0, 1}, Refused: []int{2, 0}}
	refused := &store.RefusedReport{ByCode: map[string]int{"SCHEMA_INVALID": 1, "SIGNATURE_INVALID": 1, "KEY_UNKNOWN": 2}, Truncated: true}
	tr := BuildTraffic(rep, refused, nil, now)
	require.Equal(t, []time.Time{now.Add(-2 * time.Hour), now.Add(-time.Hour)}, tr.BucketStarts)
	require.Equal(t, TrafficTotals{Out: 3, In: 1, Receipts: 2, Failed: 4, Dead: 1, Refused: 2}, tr.Totals)
	require.Equal(t, []CodeCount{{"KEY_UNKNOWN", 2}, {"SCHEMA_INVALID", 1}, {"SIGNATURE_INVALID", 1}}, tr.RefusedBy)
	require.Equal(t, "traffic.truncated", tr.TruncatedKey)
	require.Equal(t, []Series{{Name: "TJ-1 · event.death", Values: []int{1, 2}}}, tr.OutChart)
	require.Equal(t, []Series{{Name: "UZ-1 · ?", Values: []int{0, 1}}}, tr.InChart)
	require.Equal(t, 5*time.Minute, BucketFor(time.Hour))
	require.Equal(t, time.Hour, BucketFor(24*time.Hour))
	require.Equal(t, 24*time.Hour, BucketFor(7*24*time.Hour))

	m := BuildMessage(&store.Timeline{Ref: "delivery/3", Direction: store.DirectionOut, State: "dead", Incomplete: true,
		Events: []store.TimelineEvent{{At: now, Kind: store.EventDead, Code: "SCHEMA_INVALID"}}})
	require.True(t, m.CanRetry)
	require.Equal(t, "timeline.state.dead", m.StateKey)
	require.Equal(t, "timeline.direction.out", m.DirectionKey)
	require.Equal(t, "timeline.event.dead", m.Events[0].Key)
	require.Equal(t, "timeline.incomplete", m.IncompleteKey)
	require.False(t, BuildMessage(&store.Timeline{Direction: store.DirectionOut, State: "delivered"}).CanRetry)
}

func TestCheckApproval(t *testing.T) {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	approve := n.Sign(n.Command(trust.CmdProposalApprove, "TR", trust.ApproveArgs{Proposal: "0b7c1f0e-9a2b-4c3d-8e4f-5a6b7c8d9e0f", PayloadSHA256: strings.Repeat("a", 64)}), n.Gov("TR", "KZ")...)
	id, err := CheckApproval(append(approve, '\n'))
	require.NoError(t, err)
	require.Equal(t, "0b7c1f0e-9a2b-4c3d-8e4f-5a6b7c8d9e0f", id)
	other := n.Sign(n.Command(trust.CmdMemberSuspend, "TR", trust.SuspendArgs{Member: "TJ", Reason: "x"}), n.Gov("TR")...)
	for name, in := range map[string][]byte{
		"another command": other,
		"empty":           nil,
		"10 MB":           bytes.Repeat([]byte("a"), 10<<20),
		"not a JWS":       []byte("<script>alert(1)</script>"),
		"bad base64":      []byte("a.%%%.c"),
		"not JSON":        []byte("a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c"),
	} {
		_, err := CheckApproval(in)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}

// The chart is deterministic (golden), accessible and escapes its text.
func TestLineChartGolden(t *testing.T) {
	series := []Series{
		{Name: "TJ-MOJ · event.death", Values: []int{0, 3, 5, 2, 7, 1}},
		{Name: "UZ-MOJ · event.live-birth", Values: []int{1, 1, 0, 4, 2, 0}},
		{Name: `KG <script>alert("x")</script>`, Values: []int{0, 0, 1, 0, 0, 0}},
	}
	opts := ChartOptions{Title: "Messages sent", Desc: "Messages per hour from 06:00 to 12:00 +05:00.",
		XLabels: []string{"06:00", "07:00", "08:00", "09:00", "10:00", "11:00"}, ID: "out"}
	got := LineChartSVG(series, opts)
	require.Equal(t, got, LineChartSVG(series, opts), "deterministic")
	golden := filepath.Join("testdata", "linechart.golden.svg")
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	svg := string(got)
	for _, must := range []string{`role="img"`, `aria-label="Messages sent"`, `<title>Messages sent</title>`, `<desc id="out-desc">`, `aria-describedby="out-desc"`} {
		require.Contains(t, svg, must)
	}
	for _, never := range []string{"<script", "javascript:", "href", "@import", "url("} {
		require.NotContains(t, svg, never)
	}
	empty := string(LineChartSVG(nil, ChartOptions{Title: "t", EmptyText: "No messages in this period."}))
	require.Contains(t, empty, "No messages in this period.")
}

// WCAG AA: every line colour and the text colour reach 4.5:1 on white.
func TestPaletteContrast(t *testing.T) {
	for _, c := range append(append([]string{}, Palette...), textColour, axisColour) {
		require.GreaterOrEqual(t, contrastOnWhite(t, c), 4.5, c)
	}
}

func contrastOnWhite(t *testing.T, hex string) float64 {
	t.Helper()
	lin := func(s string) float64 {
		v, err := strconv.ParseUint(s, 16, 8)
		require.NoError(t, err)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
	return 1.05 / (l + 0.05)
}

// The overview's registry health: each replica's applied index and
// staleness as it answered, or unreachable / not known with the reason.
func TestOverviewReplicaReports(t *testing.T) {
	n := trusttest.New(t, "TJ", "TR", "KZ")
	st := registry.Status{NodeID: "TJ-1", Leader: registry.Leader{ID: "TR-1"}, AppliedIndex: 7, SyncedAt: now,
		Staleness: time.Second, StalenessBound: time.Minute,
		Servers: []registry.Server{{ID: "TJ-1", Suffrage: trust.RoleVoter}, {ID: "TR-1", Suffrage: trust.RoleVoter}}}
	self := Replica{ID: "TJ-1", Suffrage: trust.RoleVoter, SuffrageKey: "node.role.voter", Self: true, Known: true, AppliedIndex: 7, Staleness: time.Second}
	tr := Replica{ID: "TR-1", Suffrage: trust.RoleVoter, SuffrageKey: "node.role.voter", Leader: true}
	for _, tc := range []struct {
		name    string
		reports map[string]ReplicaReport
		want    func(r Replica) Replica
	}{
		{"an answer makes the replica known", map[string]ReplicaReport{"TR-1": {AppliedIndex: 9, Staleness: 0}},
			func(r Replica) Replica { r.Known, r.AppliedIndex = true, 9; return r }},
		{"a stale answer is known and stale", map[string]ReplicaReport{"TR-1": {AppliedIndex: 5, Staleness: 2 * time.Minute, Stale: true}},
			func(r Replica) Replica {
				r.Known, r.AppliedIndex, r.Staleness, r.Stale = true, 5, 2*time.Minute, true
				return r
			}},
		{"a replica that did not answer is unreachable with the reason", map[string]ReplicaReport{"TR-1": {Failure: ReplicaConnectFailed}},
			func(r Replica) Replica {
				r.UnknownKey, r.Reason = "registry.replica.unreachable", ReplicaConnectFailed
				return r
			}},
		{"a timeout is unreachable", map[string]ReplicaReport{"TR-1": {Failure: ReplicaTimeout, AppliedIndex: 3}},
			func(r Replica) Replica {
				r.UnknownKey, r.Reason = "registry.replica.unreachable", ReplicaTimeout
				return r
			}},
		{"an unregistered server is not known", map[string]ReplicaReport{"TR-1": {Failure: ReplicaNotRegistered}},
			func(r Replica) Replica {
				r.UnknownKey, r.Reason = "registry.replica.unknown", ReplicaNotRegistered
				return r
			}},
		{"no report: not known from this node", nil,
			func(r Replica) Replica { r.UnknownKey = "registry.replica.unknown"; return r }},
		{"a report never overrides this node's own row", map[string]ReplicaReport{"TJ-1": {Failure: ReplicaTimeout}},
			func(r Replica) Replica { r.UnknownKey = "registry.replica.unknown"; return r }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := BuildOverview(n.State(), st, now)
			o.ApplyReplicaReports(tc.reports)
			require.Equal(t, []Replica{self, tc.want(tr)}, o.Registry.Replicas)
		})
	}
}
