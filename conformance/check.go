package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
)

// conditions collects the checks of one module that did not hold.
type conditions []Condition

func (c *conditions) fail(check, expected, observed string, args ...any) {
	*c = append(*c, Condition{Check: check, Expected: expected, Observed: fmt.Sprintf(observed, args...)})
}

// internals are what an answer must never show a peer (SPEC §7: the
// internal cause of an error is logged, never sent).
var internals = regexp.MustCompile(`goroutine \d+|\.go:\d+|panic[:(]|runtime\.|\bnil pointer\b|/home/|/usr/|/var/lib/|[A-Z]:\\\\`)

// compactJWS matches a body that is a compact JWS (a receipt).
var compactJWS = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// rejected checks DESIGN.md §4's first three conditions: a 4xx RFC 9457
// problem document with exactly the expected code, coherent type and
// status, nothing internal in it, and no receipt.
func rejected(a answer, code protocol.Code) conditions {
	var c conditions
	if a.err != nil {
		c.fail("an HTTP answer", "a 4xx problem document", "no answer: %v", a.err)
		return c
	}
	if a.status < 400 || a.status >= 500 {
		c.fail("status (SPEC §7: a refusal is the sender's doing, 4xx)", fmt.Sprintf("%d %s", code.Status(), code), "%d", a.status)
	}
	mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
	var p protocol.Problem
	switch {
	case mt != protocol.ProblemContentType:
		c.fail("Content-Type (RFC 9457 §3)", protocol.ProblemContentType, "%q", a.header.Get("Content-Type"))
	case json.Unmarshal(a.body, &p) != nil:
		c.fail("a problem document (RFC 9457)", "a JSON object", "%s", clip(a.body))
	default:
		if p.Code != code {
			c.fail("problem code (SPEC §7)", string(code), "%q (detail %q)", p.Code, clipS(p.Detail))
		}
		if p.Type != p.Code.TypeURI() || p.Status != a.status {
			c.fail("problem type and status agree with the code and the HTTP status (SPEC §7)", fmt.Sprintf("type %s, status %d", p.Code.TypeURI(), a.status), "type %q, status %d", p.Type, p.Status)
		}
	}
	if internals.Match(a.body) {
		c.fail("no internal detail in the answer (SPEC §7)", "no stack, file path or Go error text", "%s", clip(a.body))
	}
	if compactJWS.Match(bytes.TrimSpace(a.body)) {
		c.fail("no receipt for a refused message (SPEC §8.3)", "no JWS in the answer", "%s", clip(a.body))
	}
	return c
}

// sentMessage is what a module sent and the receipt must answer.
type sentMessage struct {
	jws       []byte
	messageID string
	sender    *Identity
}

// accepted checks SPEC §8.1–§8.3 for an answer to a message the candidate
// must accept: 200, application/jose, a receipt that verifies with the
// candidate's registered key (typ crvs-receipt+jws), from the candidate
// to the sender, for this messageId, carrying the digest of the exact
// bytes sent, with an accepting status.
func (e *env) accepted(a answer, m sentMessage) conditions {
	var c conditions
	if a.err != nil {
		c.fail("an HTTP answer", "200 with a receipt", "no answer: %v", a.err)
		return c
	}
	if a.status != 200 {
		c.fail("status (SPEC §8.1)", "200 with a receipt", "%d: %s", a.status, clip(a.body))
		return c
	}
	if mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type")); mt != protocol.MediaTypeJOSE {
		c.fail("Content-Type (SPEC §8.1)", protocol.MediaTypeJOSE, "%q", a.header.Get("Content-Type"))
	}
	v, err := jws.Verify(a.body, e.candidateKeys, jws.Options{Typ: protocol.TypReceipt})
	if err != nil {
		c.fail("the receipt verifies with the candidate's registered key (SPEC §8.3, §6)", "a valid crvs-receipt+jws", "%v", err)
		return c
	}
	if v.Key.Member != e.suite.Candidate.Member {
		c.fail("the receipt is signed by the candidate (SPEC §8.3)", e.suite.Candidate.Member, "a key of %s", v.Key.Member)
	}
	want := sha256.Sum256(m.jws)
	if d, _ := v.Header[protocol.HeaderReceiptDigest].(string); d != hex.EncodeToString(want[:]) {
		c.fail("crvs-sha256 is the SHA-256 of the bytes sent (SPEC §8.3)", hex.EncodeToString(want[:]), "%q", d)
	}
	var r struct {
		Sender    protocol.Endpoint `json:"sender"`
		Recipient protocol.Endpoint `json:"recipient"`
		Payload   struct {
			InResponseTo string `json:"inResponseTo"`
			Status       string `json:"status"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(v.Payload, &r); err != nil {
		c.fail("the receipt's payload (SPEC §8.3)", "a receipt message", "%v", err)
		return c
	}
	if r.Sender.Country != e.suite.Candidate.Member || r.Sender.NodeID != e.suite.Candidate.NodeID {
		c.fail("the receipt's sender is the candidate (SPEC §8.3)", e.suite.Candidate.NodeID, "%s/%s", r.Sender.NodeID, r.Sender.Country)
	}
	if r.Recipient.Country != m.sender.Member {
		c.fail("the receipt's recipient is the message's sender (SPEC §8.3)", m.sender.Member, "%q", r.Recipient.Country)
	}
	if r.Payload.InResponseTo != m.messageID {
		c.fail("inResponseTo is the messageId (SPEC §8.3)", m.messageID, "%q", r.Payload.InResponseTo)
	}
	switch r.Payload.Status {
	case "accepted", "accepted-with-warnings", "pending":
	default:
		c.fail("the receipt accepts the message (SPEC §8.3)", "accepted", "%q", r.Payload.Status)
	}
	return c
}

func clip(b []byte) string { return clipS(string(b)) }

func clipS(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// now is the suite's clock, in whole seconds (messages carry RFC 3339
// times without fractions).
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }
