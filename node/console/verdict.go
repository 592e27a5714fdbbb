package console

import (
	"time"

	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
)

// verdictView is a verdict translated through the catalogue from its
// structured fields (DESIGN §8), never from Verdict.String().
type verdictView struct {
	Class     string // valid, expired, not-valid: the CSS class and the id
	Headline  string
	Reason    string // why not valid, or "" when valid/expired
	Claim     string // the match result in words
	Issuer    string
	Authority string
	Query     string
	For       string
	Answers   []answerView
	Attested  time.Time
	Until     time.Time
	Checked   time.Time
	Code      string
	Detail    string
	// A signed message's (viewMessageVerdict): ids and types only.
	Message     bool
	MessageType string
	Typ         string
	MessageID   string
	SenderNode  string
	Created     time.Time
}

type answerView struct{ Label, Value string }

func viewVerdict(v *attest.Verdict, l catalogue) *verdictView {
	out := &verdictView{Class: string(v.Outcome), Code: string(v.Code), Detail: v.Detail, Checked: v.CheckedAt}
	switch v.Outcome {
	case attest.OutcomeValid:
		out.Headline = l.T("verdict.valid")
	case attest.OutcomeExpired:
		out.Headline = l.T("verdict.expired")
	default:
		out.Class = string(attest.OutcomeNotValid)
		out.Headline = l.T("verdict.notvalid")
		key := "verdict.reason." + string(v.Code)
		if !l.Has(key) {
			key = "verdict.reason.other"
		}
		out.Reason = l.T(key)
		return out // nothing learned from an unverified payload is shown
	}
	out.Issuer = countryName(v.Issuer.Country, l)
	out.Authority = v.Issuer.Authority
	out.Query = v.InResponseTo
	out.For = v.Recipient.NodeID
	out.Attested, out.Until = v.AttestedAt, v.ValidUntil
	mkey := "match." + v.MatchResult
	if !l.Has(mkey) {
		mkey = "match.other"
	}
	out.Claim = l.T(mkey)
	if v.MatchResult == attest.MatchRefused {
		rkey := "refusal." + v.RefusalReason
		if !l.Has(rkey) {
			rkey = "refusal.other"
		}
		out.Claim += " " + l.T(rkey)
	}
	// In the schema's order.
	for _, q := range protocol.StatusQuestions {
		a := q.Member
		val, ok := v.Answers[a]
		if !ok {
			continue
		}
		vkey := "value." + val
		shown := val
		if l.Has(vkey) {
			shown = l.T(vkey)
		}
		out.Answers = append(out.Answers, answerView{Label: l.T("answer." + a), Value: shown})
	}
	return out
}

// viewMessageVerdict is a signed message's verdict in the reader's
// language. A refusal's sentence is the message-specific one where the
// attestation's would say "attestation" (verdict.message.reason.CODE),
// else the shared one (verdict.reason.CODE), else
// verdict.message.reason.other.
func viewMessageVerdict(v *view.MessageVerdict, l catalogue) *verdictView {
	out := &verdictView{Message: true, Code: string(v.Code), Detail: v.Detail, Checked: v.CheckedAt}
	if !v.Valid {
		out.Class = string(attest.OutcomeNotValid)
		out.Headline = l.T("verdict.notvalid")
		key := "verdict.message.reason." + string(v.Code)
		if !l.Has(key) {
			key = "verdict.reason." + string(v.Code)
		}
		if v.Code == "" || !l.Has(key) {
			key = "verdict.message.reason.other"
		}
		out.Reason = l.T(key)
		return out // nothing learned from an unverified payload is shown
	}
	out.Class = string(attest.OutcomeValid)
	out.Headline = l.T("verdict.message.valid")
	out.Issuer = countryName(v.Sender.Country, l)
	out.SenderNode = v.Sender.NodeID
	out.MessageType, out.Typ, out.MessageID = v.MessageType, v.Typ, v.MessageID
	out.Created = v.CreatedAt
	return out
}

// countryName is "Name (CODE)" in the reader's language, or the code.
func countryName(code string, l catalogue) string {
	if k := "country." + code; l.Has(k) {
		return l.T(k) + " (" + code + ")"
	}
	return code
}
