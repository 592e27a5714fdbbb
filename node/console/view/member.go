package view

import (
	"errors"
	"slices"
	"time"

	"github.com/ecrn/crvsx/node/store"
	"github.com/ecrn/crvsx/protocol/trust"
)

// ErrNotFound: no such member or message. The console answers 404.
var ErrNotFound = errors.New("view: not found")

// Member is a member's page.
type Member struct {
	Now          time.Time
	ID, Name     string
	Status       string
	StatusKey    string
	History      []StatusStep
	AdmittedAt   time.Time
	Keys         []KeyHistory // newest first (by valid-from)
	Nodes        []NodeRow    // its endpoints
	Certificates []CertRow
	Traffic      MemberTraffic
}

// StatusStep is one step of the member's status history.
type StatusStep struct {
	Status, StatusKey string
	Since             time.Time
}

// KeyHistory is one key of the member with its life as events, each with
// its meaning for the messages it signed spelled out as a message key.
type KeyHistory struct {
	Kid               string
	Role, RoleKey     string
	Alg               string
	Status, StatusKey string
	NotBefore         time.Time
	NotAfter          time.Time
	AddedVia          string
	AddedBy           []string
	Warning           string // expiry.* for an active key; expiry.none otherwise
	DaysLeft          int
	Events            []KeyEvent // in time order
}

// KeyEvent is one step of a key's life: Kind (a key.event.* key),
// Meaning (Kind + ".meaning", whose {0} is At), At.
type KeyEvent struct {
	Kind    string
	Meaning string
	At      time.Time
	// Since is true where At is a boundary of validity: messages signed
	// at or after At are affected, those before are not.
	Since bool
}

// MemberTraffic is this node's recent traffic with the member.
type MemberTraffic struct {
	Since, Until time.Time
	Sent         int // messages this node accepted for delivery to it
	Received     int // messages this node stored from it
	Receipts     int
	Dead         int
	Refused      int
	Out, In      []store.TrafficSeries
	Truncated    bool
}

// KeyEvents spells out a key's history (REGISTRY.md §10):
//   - added at AddedAt; valid from NotBefore;
//   - retired at T: messages created before T remain valid;
//   - revoked as compromised since T: messages signed at or after T are
//     refused, before T still valid (RevokedAt is when it was recorded);
//   - expires / expired at NotAfter.
func KeyEvents(k trust.Key, now time.Time) []KeyEvent {
	ev := []KeyEvent{
		{Kind: KeyEventAdded, At: k.AddedAt.Time()},
		{Kind: KeyEventValidFrom, At: k.NotBefore.Time(), Since: true},
	}
	if k.RetiredAt != 0 {
		ev = append(ev, KeyEvent{Kind: KeyEventRetired, At: k.RetiredAt.Time(), Since: true})
	}
	if k.Status == trust.KeyRevoked {
		ev = append(ev, KeyEvent{Kind: KeyEventRevokedCompromised, At: k.CompromisedSince.Time(), Since: true})
	}
	if na := k.NotAfter.Time(); now.Before(na) {
		ev = append(ev, KeyEvent{Kind: KeyEventExpires, At: na, Since: true})
	} else {
		ev = append(ev, KeyEvent{Kind: KeyEventExpired, At: na, Since: true})
	}
	for i := range ev {
		ev[i].Meaning = ev[i].Kind + ".meaning"
	}
	slices.SortStableFunc(ev, func(a, b KeyEvent) int { return a.At.Compare(b.At) })
	return ev
}

// BuildMember builds a member's page; traffic is this node's traffic with
// it (store.Traffic with Peer = the member id), nil when not read.
func BuildMember(s *trust.State, id string, traffic *store.TrafficReport, now time.Time) (Member, error) {
	m, ok := s.Member(id)
	if !ok {
		return Member{}, ErrNotFound
	}
	out := Member{Now: now, ID: m.ID, Name: m.Name, Status: m.Status,
		StatusKey: keyOr("member.status."+m.Status, "member.status.unknown"), AdmittedAt: m.AdmittedAt.Time()}
	for _, h := range m.History {
		out.History = append(out.History, StatusStep{Status: h.Status,
			StatusKey: keyOr("member.status."+h.Status, "member.status.unknown"), Since: h.Since.Time()})
	}
	for _, k := range s.Keys() {
		if k.Member != id {
			continue
		}
		kh := KeyHistory{Kid: k.Kid, Role: k.Role, RoleKey: keyOr("key.role."+k.Role, "key.status.unknown"), Alg: k.Alg,
			Status: k.Status, StatusKey: keyOr("key.status."+k.Status, "key.status.unknown"),
			NotBefore: k.NotBefore.Time(), NotAfter: k.NotAfter.Time(), AddedVia: k.AddedVia, AddedBy: k.AddedBy,
			Warning: WarnNone, Events: KeyEvents(k, now)}
		if k.Status == trust.KeyActive {
			kh.Warning, kh.DaysLeft = ExpiryWarning(kh.NotAfter, now)
		}
		out.Keys = append(out.Keys, kh)
	}
	slices.SortStableFunc(out.Keys, func(a, b KeyHistory) int { return b.NotBefore.Compare(a.NotBefore) })
	out.Nodes = nodesByMember(s)[id]
	for _, c := range s.Certificates() {
		if c.Subject == id {
			out.Certificates = append(out.Certificates, certRow(c, now))
		}
	}
	if traffic != nil {
		t := MemberTraffic{Since: traffic.Since, Until: traffic.Until, Out: traffic.Out, In: traffic.In, Truncated: traffic.Truncated}
		for _, s := range traffic.Out {
			t.Sent += s.Total
		}
		for _, s := range traffic.In {
			t.Received += s.Total
		}
		t.Receipts, t.Dead, t.Refused = sum(traffic.Receipts), sum(traffic.Dead), sum(traffic.Refused)
		out.Traffic = t
	}
	return out, nil
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
