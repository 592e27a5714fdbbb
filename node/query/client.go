package query

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/ecrn/crvsx/schemas"
)

// The requester's side of SPEC §11.2: build a status.query, sign it, send
// it to a member's node over mutual TLS. `crvsx query` and the devnet's
// demo use it; neither holds a second copy of the envelope rules.

// Ask is what a requester asks a member's node.
type Ask struct {
	Requester        string     // the requester id (the signing key's member)
	OrganizationType string     // its registered type (trust.Requester)
	Node             trust.Node // the member's node (trust.View.NodeOfMember)
	Purpose          string
	Basis            string // consent.basis
	ObtainedAt       string // consent.obtainedAt, RFC 3339, optional
	Method           string // consent.method, optional
	OfficerRef       string // optional
	CaseRef          string // optional
	Subject          json.RawMessage
	Questions        []string
	MessageID        string    // "": a fresh UUID
	CreatedAt        time.Time // zero: now
}

// statusQuery is a status.query (schemas/1.0.0/status-query.schema.json),
// its members in the order of SPEC §4.
type statusQuery = protocol.Outgoing[queryPayload]

type queryPayload struct {
	Requester queryRequester  `json:"requester"`
	Consent   queryConsent    `json:"consent"`
	Subject   json.RawMessage `json:"subject"`
	Questions []string        `json:"questions"`
}

type queryRequester struct {
	Organization     string `json:"organization"`
	OrganizationType string `json:"organizationType"`
	OfficerRef       string `json:"officerRef,omitempty"`
	CaseRef          string `json:"caseRef,omitempty"`
}

type queryConsent struct {
	Basis      string `json:"basis"`
	ObtainedAt string `json:"obtainedAt,omitempty"`
	Method     string `json:"method,omitempty"`
}

// NewQuery builds the status.query of a, validated by the schemas and the
// semantic rules before anything is signed, and returns its payload (NFC,
// compact JSON) and messageId. A refusal is the validator's
// *protocol.Error, its issues pointing into the query.
func NewQuery(a Ask) (payload []byte, messageID string, err error) {
	id := a.MessageID
	if id == "" {
		id = protocol.NewUUID()
	}
	at := a.CreatedAt
	if at.IsZero() {
		at = time.Now()
	}
	q := statusQuery{
		SchemaVersion: protocol.SchemaVersion, MessageType: protocol.MTStatusQuery, MessageID: id,
		CreatedAt: at.UTC().Format(time.RFC3339),
		// > sender.nodeId is the requester id and sender.country the
		// > country of its id (KG for KG-BORDER; an INT- requester's
		// > sender has none)
		Sender:    protocol.Endpoint{NodeID: a.Requester, Country: CountryOf(a.Requester)},
		Recipient: protocol.Endpoint{NodeID: a.Node.ID, Country: a.Node.Member},
		Purpose:   a.Purpose,
		Payload: queryPayload{
			// > requester.organization is the requester id and
			// > requester.organizationType its registered type
			Requester: queryRequester{Organization: a.Requester, OrganizationType: a.OrganizationType, OfficerRef: a.OfficerRef, CaseRef: a.CaseRef},
			Consent:   queryConsent{Basis: a.Basis, ObtainedAt: a.ObtainedAt, Method: a.Method},
			Subject:   a.Subject,
			Questions: a.Questions,
		},
	}
	raw, err := json.Marshal(q)
	if err != nil {
		return nil, "", fmt.Errorf("query: %w", err)
	}
	res, err := schemas.Default().Validate(raw)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res.Doc); err != nil { // the NFC document the validator read
		return nil, "", fmt.Errorf("query: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), id, nil
}

// SignQuery signs a query payload with a requester key (typ
// crvs-query+jws).
func SignQuery(s *jws.Signer, payload []byte) ([]byte, error) {
	if !protocol.IsRequesterID(s.Member()) {
		return nil, fmt.Errorf("query: a key of %s is not a requester's (SPEC §11.1)", s.Member())
	}
	return s.Sign(protocol.TypQuery, payload)
}

// MaxAttestationBytes bounds a node's answer.
const MaxAttestationBytes = protocol.MaxMessageBytes

// Send posts a signed query to node over mutual TLS with the requester's
// client certificate, the node's key pinned to its registered pin, and
// returns the attestation. An answer that is not one is a
// *protocol.ProblemError (with "(retry after N s)" in its detail when the
// node said so); a connection that fails is the transport's error.
func Send(ctx context.Context, node trust.Node, cert tls.Certificate, token []byte, timeout time.Duration) ([]byte, error) {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     pintls.ClientConfig(&cert, pintls.ExpectPin(node.TLSSPKISHA256)),
		TLSHandshakeTimeout: 10 * time.Second,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(node.APIURL, "/")+"/v1/queries", bytes.NewReader(token))
	if err != nil {
		return nil, fmt.Errorf("node %s: API URL %q: %w", node.ID, node.APIURL, err)
	}
	req.Header.Set("Content-Type", protocol.MediaTypeJOSE)
	req.Header.Set("Accept", protocol.MediaTypeJOSE+", "+protocol.ProblemContentType)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAttestationBytes+1))
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusOK && mt == protocol.MediaTypeJOSE {
		if len(body) > MaxAttestationBytes {
			return nil, &protocol.ProblemError{From: node.ID, Status: resp.StatusCode, Problem: protocol.Problem{Detail: "the answer is larger than a message may be"}}
		}
		return bytes.TrimSpace(body), nil
	}
	pe := protocol.DecodeProblem(node.ID, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if ra := resp.Header.Get("Retry-After"); ra != "" && pe.Problem.Code != "" {
		if s, err := strconv.Atoi(ra); err == nil {
			pe.Problem.Detail += fmt.Sprintf(" (retry after %d s)", s)
		}
	}
	return nil, pe
}
