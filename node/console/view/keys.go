package view

import (
	"slices"
	"time"
)

// MessageKeys maps every message key the view models use to its English
// default text. The console's catalogues must translate each of them (its
// catalogue test iterates this map). {0}, {1} are the arguments a row
// gives with the key (e.g. KeyEvent.At).
var MessageKeys = map[string]string{
	// Expiry calendar (keys and certificates), DESIGN: 60, 30 and 7 days ahead.
	WarnNone:    "",
	WarnExpired: "Expired",
	Warn7Days:   "Expires within 7 days",
	Warn30Days:  "Expires within 30 days",
	Warn60Days:  "Expires within 60 days",

	// Member status.
	"member.status.active":    "Active",
	"member.status.suspended": "Suspended",
	"member.status.withdrawn": "Withdrawn",
	"member.status.unknown":   "Unknown status",

	// Key roles and statuses.
	"key.role.governance": "Governance key (signs registry commands)",
	"key.role.signing":    "Signing key (signs messages)",
	"key.status.active":   "Active",
	"key.status.retired":  "Retired",
	"key.status.revoked":  "Revoked",
	"key.status.unknown":  "Unknown",

	// Key history: what happened, and what it means for messages.
	KeyEventAdded:                  "Registered",
	KeyEventValidFrom:              "Valid from",
	KeyEventRetired:                "Retired",
	KeyEventRevokedCompromised:     "Revoked as compromised",
	KeyEventExpires:                "Expires",
	KeyEventExpired:                "Expired",
	"key.event.added.meaning":      "Registered in the registry; it may sign from its valid-from time.",
	"key.event.valid-from.meaning": "Messages signed with this key are accepted from this time.",
	"key.event.retired.meaning": "Retired at {0}: messages created before {0} remain valid; " +
		"the key signs nothing from then on.",
	"key.event.revoked-compromised.meaning": "Compromised since {0}: messages signed at or after {0} are refused; " +
		"messages signed before {0} are still valid.",
	"key.event.expires.meaning": "From {0} the key signs nothing; messages signed before remain valid.",
	"key.event.expired.meaning": "Expired at {0}: messages signed before {0} remain valid.",

	// Nodes and the registry.
	"node.role.voter":              "Voting replica",
	"node.role.nonvoter":           "Non-voting replica",
	"registry.role.leader":         "Leader",
	"registry.role.follower":       "Follower",
	"registry.role.candidate":      "Candidate (election running)",
	"registry.role.shutdown":       "Stopped",
	"registry.role.unknown":        "Not in the registry cluster",
	"registry.fresh":               "In sync with the leader",
	"registry.stale":               "Stale: this node's registry view is out of date",
	"registry.never-synced":        "Never in sync with a leader since start",
	"registry.replica.unknown":     "Not known from this node",
	"registry.replica.unreachable": "Unreachable",
	"registry.no-leader":           "No leader known",

	// Proposals.
	"proposal.missing":              "{0} more approvals needed",
	"proposal.complete":             "Enough approvals; waiting for execution",
	"proposal.expired":              "Expired",
	"proposal.approval.counts":      "Counts",
	"proposal.approval.not-counted": "Does not count (member not active or key not valid at the approval's time)",

	// Certificates.
	"cert.status.active":  "Active",
	"cert.status.revoked": "Revoked",

	// Requesters.
	"requester.status.active":    "Active",
	"requester.status.suspended": "Suspended",
	"requester.status.withdrawn": "Withdrawn",

	// Traffic.
	"traffic.out":        "Messages sent",
	"traffic.in":         "Messages received",
	"traffic.receipts":   "Receipts received",
	"traffic.failed":     "Failed delivery attempts",
	"traffic.dead":       "Dead letters",
	"traffic.refused":    "Refused inbound messages",
	"traffic.truncated":  "Only the most recent records were counted: the numbers are a lower bound.",
	"traffic.chart.desc": "{0} per {1} from {2} to {3}, one line per peer and message type.",
	"traffic.no-data":    "No messages in this period.",

	// Message timeline.
	"timeline.direction.out":        "Outbound",
	"timeline.direction.in":         "Inbound",
	"timeline.direction.refused":    "Refused inbound",
	"timeline.state.pending":        "Waiting for delivery",
	"timeline.state.delivered":      "Delivered (receipt verified)",
	"timeline.state.dead":           "Dead letter",
	"timeline.state.accepted":       "Accepted",
	"timeline.state.refused":        "Refused",
	"timeline.event.accepted":       "Accepted for delivery",
	"timeline.event.attempt-failed": "Delivery attempt failed",
	"timeline.event.delivered":      "Receipt received and verified",
	"timeline.event.dead":           "Dead-lettered",
	"timeline.event.retried":        "Retried by an operator",
	"timeline.event.received":       "Received and stored",
	"timeline.event.receipt-sent":   "Receipt sent",
	"timeline.event.acknowledged":   "Taken by the national system ({0})",
	"timeline.event.refused":        "Refused",
	"timeline.incomplete":           "Older steps of this message are not shown.",
	"timeline.no-time":              "time not recorded",
	"timeline.not-found":            "No message with this reference.",
	"timeline.several":              "Several messages have this id; choose one.",
}

// Expiry warnings (Warning of KeyRow and CertRow).
const (
	WarnNone    = "expiry.none"
	WarnExpired = "expiry.expired"
	Warn7Days   = "expiry.7d"
	Warn30Days  = "expiry.30d"
	Warn60Days  = "expiry.60d"
)

// Key history events (KeyEvent.Kind); each has a "<kind>.meaning" key.
const (
	KeyEventAdded              = "key.event.added"
	KeyEventValidFrom          = "key.event.valid-from"
	KeyEventRetired            = "key.event.retired"
	KeyEventRevokedCompromised = "key.event.revoked-compromised"
	KeyEventExpires            = "key.event.expires"
	KeyEventExpired            = "key.event.expired"
)

// SortedKeys returns MessageKeys' keys, sorted.
func SortedKeys() []string {
	out := make([]string, 0, len(MessageKeys))
	for k := range MessageKeys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TimeLayout shows a time with its offset from UTC (issue 12: times are
// always shown with their offset).
const TimeLayout = "2006-01-02 15:04:05 -07:00"

// FormatTime shows t in loc (UTC when nil) with its offset; "" for the
// zero time (the template then shows timeline.no-time or nothing).
func FormatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(TimeLayout)
}

// ExpiryWarning is the calendar's warning for something valid until
// notAfter, seen at now: expired once now ≥ notAfter; else 7, 30 or 60
// days ahead when at most that many days remain; else none.
func ExpiryWarning(notAfter, now time.Time) (warning string, daysLeft int) {
	left := notAfter.Sub(now)
	if left <= 0 {
		return WarnExpired, 0
	}
	daysLeft = int(left / (24 * time.Hour))
	switch {
	case left <= 7*24*time.Hour:
		return Warn7Days, daysLeft
	case left <= 30*24*time.Hour:
		return Warn30Days, daysLeft
	case left <= 60*24*time.Hour:
		return Warn60Days, daysLeft
	}
	return WarnNone, daysLeft
}
