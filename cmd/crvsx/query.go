package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/query"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/trust"
	"github.com/spf13/cobra"
)

// queryFlags are the flags of crvsx query.
type queryFlags struct {
	key, tlsKey, to, subject string
	questions                []string
	purpose, basis           string
	obtainedAt, method       string
	officerRef, caseRef      string
	bundle                   bundleFlags
	out                      string
	timeout                  time.Duration
	asJSON                   bool
}

// Limits of the input files of crvsx query.
const (
	maxSubjectBytes = 64 << 10
	maxTLSKeyBytes  = 16 << 10
	maxRefLen       = 64 // status-query.schema.json officerRef, caseRef
)

var (
	// queryPurposes are the envelope's purposes (common.schema.json
	// purpose; the schema does not narrow them for a status.query), the
	// usual ones of a query first.
	queryPurposes = []string{"humanitarian-verification", "identification-assistance", "family-reunification",
		"nationality-determination", "protection-notification", "citizenship-notification", "residence-notification",
		"birthplace-notification", "statistics", "correction-notice", "acknowledgement"}
	consentMethods = []string{"written", "recorded-verbal", "not-applicable"}
)

func newQueryCmd(e *env) *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use: "query --key REQUESTER.private.jwk --tls-key REQUESTER.tls.key --to CC --subject SUBJECT.json " +
			"--question Q [--question Q…] --purpose P --basis B [--consent-obtained-at T] [--consent-method M] " +
			"[--officer-ref R] [--case-ref C] --bundle BUNDLE.json --genesis-sha256 SHA256 [--out FILE] [--timeout D] [--json]",
		Short: "Ask a member's node about a person: a signed status query, a verified attestation",
		Long: `Send a status query (protocol/SPEC.md §11) as a registered requester — a
humanitarian agency or a member's border service — to the node of member
--to, and verify and save the status attestation it answers.

The requester's identity and scope come from the registry, read offline
from a trust bundle (--bundle, "crvsx registry bundle") replayed from the
pinned genesis (--genesis-sha256 or --genesis): the requester is the
--key's member (a requester id such as INT-UNHCR; "crvsx keys generate
--member INT-UNHCR"), its organisation type is the registered one, and the
node of --to and the pin of that node's TLS key are the registered ones.
The query goes over mutual TLS with the requester's client TLS key
(--tls-key, the PEM key of "crvsx registry node-key generate --node-id
INT-UNHCR", whose pin is the requester's registered tlsSpkiSha256); a node
whose key is not the pinned one is refused before anything is sent.

The query is built here and validated against the schemas before it is
signed (typ crvs-query+jws): sender the requester, recipient the node,
a fresh messageId, createdAt now, the purpose, the consent basis (and
when and how consent was obtained), the subject from SUBJECT.json (the
"subject" of a status.query: identifiers, or names and birthDate) and the
questions. A question, country or basis outside the requester's registered
scope is warned about here and refused by the node (QUERY_NOT_AUTHORIZED).

The attestation is verified offline against the same bundle (SPEC §11.3:
the member's signing key valid at attestedAt, the issuer the queried
member, inResponseTo this query, validUntil not passed), written to --out
(default attestation-<messageId>.jws, atomically) and printed in plain
words: the match result and the answers. A registry does not say a person
is alive: "no death registered" is what it attests.

Exit 0 with a verified attestation (whatever its matchResult); exit 1 when
the node refuses the query (its problem code is printed, e.g.
QUERY_NOT_AUTHORIZED, RATE_LIMITED with when to retry) or the answer does
not verify; exit 2 on usage errors; exit 3 when the node cannot be reached
(connection, TLS key not the pinned one, timeout).`,
		Example: `  crvsx query --key keys/INT-UNHCR_xyz.private.jwk --tls-key tls/INT-UNHCR.tls.key \
    --to TJ --subject subject.json --question vital-status --question is-registered \
    --purpose humanitarian-verification --basis data-subject-consent \
    --consent-obtained-at 2026-03-02T08:30:00Z --consent-method written --case-ref UNHCR-TJ-2026-0193 \
    --bundle trust-bundle.json --genesis-sha256 5d41402abc4b2a76b9719d911017c592…

  subject.json:
    {"names": [{"script": "Latn", "fullName": "RUSTAM KARIMOV"}], "birthDate": "1979-11-03", "sex": 1}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runQuery(cmd.Context(), e, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "the requester's private signing JWK (its member is the requester id, e.g. INT-UNHCR)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the requester's client TLS private key (PEM), whose pin is its registered tlsSpkiSha256")
	fl.StringVar(&f.to, "to", "", "the member country to ask (ISO 3166-1 alpha-2, e.g. TJ)")
	fl.StringVar(&f.subject, "subject", "", `JSON file of the subject: {"identifiers": […]} or {"names": […], "birthDate": …}`)
	fl.StringArrayVar(&f.questions, "question", nil, "a question to ask, repeatable: "+strings.Join(trust.RequesterQuestions(), ", "))
	fl.StringVar(&f.purpose, "purpose", "", "the purpose of the query: "+strings.Join(queryPurposes[:5], ", ")+", …")
	fl.StringVar(&f.basis, "basis", "", "the consent basis: "+strings.Join(trust.RequesterConsentBases(), ", "))
	fl.StringVar(&f.obtainedAt, "consent-obtained-at", "", "when consent was obtained (RFC 3339, not in the future)")
	fl.StringVar(&f.method, "consent-method", "", "how consent was obtained: "+strings.Join(consentMethods, ", "))
	fl.StringVar(&f.officerRef, "officer-ref", "", "the requesting officer's reference (at most 64 characters)")
	fl.StringVar(&f.caseRef, "case-ref", "", "the requester's case reference (at most 64 characters)")
	f.bundle.register(e, cmd)
	fl.StringVar(&f.out, "out", "", "file to write the attestation to (default attestation-<messageId>.jws)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "time limit of the request")
	fl.BoolVar(&f.asJSON, "json", false, "print the verdict (or the node's problem document) as JSON on stdout")
	return cmd
}

// check validates the flags that need no file, one clear line each.
func (f *queryFlags) check(now time.Time) error {
	switch {
	case f.key == "":
		return errors.New("--key REQUESTER.private.jwk is required (the requester's signing key)")
	case f.tlsKey == "":
		return errors.New("--tls-key REQUESTER.tls.key is required (the requester's client TLS key)")
	case f.to == "":
		return errors.New("--to CC is required: the member country to ask, e.g. TJ")
	case !memberRE.MatchString(f.to):
		return fmt.Errorf("--to must be a member's ISO 3166-1 alpha-2 code in capitals, such as TJ; got %q", f.to)
	case f.subject == "":
		return errors.New("--subject FILE is required: the JSON of the person asked about")
	case len(f.questions) == 0:
		return fmt.Errorf("--question is required (repeatable): %s", strings.Join(trust.RequesterQuestions(), ", "))
	case len(f.questions) > 6:
		return fmt.Errorf("--question is given %d times: at most 6", len(f.questions))
	case f.purpose == "":
		return fmt.Errorf("--purpose is required: %s", strings.Join(queryPurposes, ", "))
	case !slices.Contains(queryPurposes, f.purpose):
		return fmt.Errorf("--purpose %q is not a purpose of a status query: %s", f.purpose, strings.Join(queryPurposes, ", "))
	case f.basis == "":
		return fmt.Errorf("--basis is required: %s", strings.Join(trust.RequesterConsentBases(), ", "))
	case !slices.Contains(trust.RequesterConsentBases(), f.basis):
		return fmt.Errorf("--basis %q is not a consent basis: %s", f.basis, strings.Join(trust.RequesterConsentBases(), ", "))
	case f.method != "" && !slices.Contains(consentMethods, f.method):
		return fmt.Errorf("--consent-method %q is not a consent method: %s", f.method, strings.Join(consentMethods, ", "))
	case len(f.officerRef) > maxRefLen || len(f.caseRef) > maxRefLen:
		return fmt.Errorf("--officer-ref and --case-ref are at most %d characters", maxRefLen)
	case f.bundle.file == "":
		return errors.New("--bundle BUNDLE.json is required: the registry's trust bundle (crvsx registry bundle) names the requester, the node and its pin")
	case f.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	seen := map[string]bool{}
	for _, q := range f.questions {
		if !slices.Contains(trust.RequesterQuestions(), q) {
			return fmt.Errorf("--question %q is not a question of a status query: %s", q, strings.Join(trust.RequesterQuestions(), ", "))
		}
		if seen[q] {
			return fmt.Errorf("--question %s is given twice", q)
		}
		seen[q] = true
	}
	if f.obtainedAt != "" {
		t, err := time.Parse(time.RFC3339, f.obtainedAt)
		if err != nil {
			return fmt.Errorf("--consent-obtained-at %q is not an RFC 3339 time such as 2026-03-02T08:30:00Z", f.obtainedAt)
		}
		// > SPEC §11.2 step 4: consent.obtainedAt, when given, is not after
		// > createdAt.
		if t.After(now) {
			return fmt.Errorf("--consent-obtained-at %s is in the future: no consent covers a query made before it was obtained", f.obtainedAt)
		}
	}
	return nil
}

func runQuery(ctx context.Context, e *env, f *queryFlags) error {
	now := time.Now()
	if err := f.check(now); err != nil {
		return err
	}
	signer, err := e.readSigner(f.key)
	if err != nil {
		return err
	}
	if !protocol.IsRequesterID(signer.Member()) {
		return fmt.Errorf("--key %s is a key of %s, not of a requester (SPEC §11.1: a requester id such as INT-UNHCR; crvsx keys generate --member INT-UNHCR)", f.key, signer.Member())
	}
	cert, err := e.readClientTLSKey(f.tlsKey, signer.Member())
	if err != nil {
		return err
	}
	subject, err := e.readSubject(f.subject)
	if err != nil {
		return err
	}
	view, err := f.bundle.replay(e)
	if err != nil {
		return err
	}

	// Who the requester is, and where the member's node is, by the bundle.
	id := signer.Member()
	req, ok := view.Requester(id)
	if !ok {
		return refused(fmt.Errorf("requester %s is not registered in %s (index %d): register it (requester.register) or fetch a newer bundle", id, f.bundle.file, view.AppliedIndex()))
	}
	if req.Status != trust.StatusActive {
		return refused(fmt.Errorf("requester %s is %s in %s: a node refuses its queries (REQUESTER_SUSPENDED)", id, req.Status, f.bundle.file))
	}
	if err := view.RequesterKeyValidAt(signer.Kid(), now); err != nil {
		return refused(fmt.Errorf("--key %s: %w", f.key, err))
	}
	if pin, _ := pintls.Pin(cert); pin != req.TLSSPKISHA256 {
		return refused(fmt.Errorf("--tls-key %s has pin %s, but %s's registered client TLS pin is %s: a node refuses it (NODE_PIN_MISMATCH)",
			f.tlsKey, pintls.ShortPin(pin), id, pintls.ShortPin(req.TLSSPKISHA256)))
	}
	for _, w := range scopeWarnings(req, f) {
		fmt.Fprintf(e.stderr, "warning: %s; the node will refuse it (QUERY_NOT_AUTHORIZED)\n", w)
	}
	node, ok := view.NodeOfMember(f.to)
	if !ok {
		return refused(fmt.Errorf("member %s has no active node with an API URL in %s", f.to, f.bundle.file))
	}

	// The query (SPEC §4, §11.2 step 3), validated before it is signed.
	payload, messageID, err := query.NewQuery(query.Ask{Requester: id, OrganizationType: req.OrganizationType, Node: node,
		Purpose: f.purpose, Basis: f.basis, ObtainedAt: f.obtainedAt, Method: f.method, OfficerRef: f.officerRef, CaseRef: f.caseRef,
		Subject: subject, Questions: f.questions, CreatedAt: now})
	if err != nil {
		src := "status.query"
		if pe, ok := err.(*protocol.Error); ok && subjectIssues(pe) {
			src = f.subject
		}
		printIssues(e.stderr, src, err)
		return invalid(err)
	}
	tok, err := query.SignQuery(signer, payload)
	if err != nil {
		return err
	}

	att, err := query.Send(ctx, node, cert, tok, f.timeout)
	if err != nil {
		return e.reportQueryError(node, err, f.asJSON)
	}

	// > SPEC §11.3 Offline verification (protocol/attest), and the answer
	// > is to this query from the member asked.
	v, err := attest.Verify(att, view, time.Now())
	if err == nil && v.InResponseTo != messageID {
		err = fmt.Errorf("the attestation answers query %s, not this query %s", v.InResponseTo, messageID)
	}
	if err == nil && v.Issuer.Country != f.to {
		err = fmt.Errorf("the attestation is issued by %s, not by the member asked, %s", v.Issuer.Country, f.to)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "the answer of %s does not verify, nothing was saved:\n", node.ID)
		if v != nil && v.Outcome != "" {
			fmt.Fprintln(e.stderr, v.String())
		}
		if protocol.CodeOf(err) == "" {
			return refused(err)
		}
		return reportRefusal(e, err, f.asJSON)
	}
	out := f.out
	if out == "" {
		out = "attestation-" + messageID + ".jws"
	}
	if err := replaceFile(out, append(bytes.Clone(att), '\n'), 0o644); err != nil {
		return fmt.Errorf("the attestation verified but could not be saved to %s: %w", out, err)
	}
	if f.asJSON {
		return e.printJSON(queryResultJSON{Query: messageID, Node: node.ID, File: out, Verdict: v})
	}
	fmt.Fprintln(e.stdout, v.String())
	fmt.Fprintf(e.stdout, "answered by %s; saved to %s\n", node.ID, out)
	return nil
}

// scopeWarnings lists what of the query is outside the requester's
// registered scope (SPEC §11.2 step 4), as the bundle has it. The node
// decides, with its registry, which may be newer: the query is still sent.
func scopeWarnings(r trust.Requester, f *queryFlags) []string {
	var w []string
	if !slices.Contains(r.Countries, f.to) {
		w = append(w, fmt.Sprintf("country %s is not in %s's registered scope", f.to, r.ID))
	}
	for _, q := range f.questions {
		if !slices.Contains(r.Questions, q) {
			w = append(w, fmt.Sprintf("question %s is not in %s's registered scope", q, r.ID))
		}
	}
	if !slices.Contains(r.Purposes, f.purpose) {
		w = append(w, fmt.Sprintf("purpose %s is not in %s's registered scope", f.purpose, r.ID))
	}
	if !slices.Contains(r.Bases, f.basis) {
		w = append(w, fmt.Sprintf("consent basis %s is not in %s's registered scope", f.basis, r.ID))
	}
	return w
}

// subjectIssues reports whether every issue of a refusal is in the
// subject.
func subjectIssues(pe *protocol.Error) bool {
	if len(pe.Issues) == 0 {
		return strings.HasPrefix(pe.Pointer, "/payload/subject")
	}
	for _, is := range pe.Issues {
		if !strings.HasPrefix(is.Pointer, "/payload/subject") {
			return false
		}
	}
	return true
}

// readSubject reads the subject of a status.query: one JSON object,
// compacted. The schema checks the rest, with the whole query.
func (e *env) readSubject(name string) (json.RawMessage, error) {
	b, err := e.readInput(name, maxSubjectBytes)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("--subject %s is not a JSON object: %w", name, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("--subject %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// readClientTLSKey reads a PEM private key (PKCS #8 as "crvsx registry
// node-key generate" writes it, or SEC 1 "EC PRIVATE KEY") and wraps it in
// a fresh self-signed certificate: the pin is the key's, whatever the
// certificate.
func (e *env) readClientTLSKey(file, id string) (tls.Certificate, error) {
	b, err := e.readInput(file, maxTLSKeyBytes)
	if err != nil {
		return tls.Certificate{}, err
	}
	var priv any
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			priv, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			priv, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("--tls-key %s: %w", file, err)
		}
		break
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("--tls-key %s holds no PEM private key (the .tls.key file of crvsx registry node-key generate)", file)
	}
	if file != "-" {
		e.warnReadableByOthers(file)
	}
	cert, err := pintls.SelfSigned(id, s)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-key %s: %w", file, err)
	}
	return cert, nil
}

// reportQueryError prints the node's refusal, or why it could not be
// reached, on one line (then a problem's issues), and returns the exit
// code of exit.go's rule.
func (e *env) reportQueryError(node trust.Node, err error, asJSON bool) error {
	var pe *protocol.ProblemError
	switch {
	case errors.As(err, &pe) && pe.Problem.Code != "":
		p := pe.Problem
		fmt.Fprintf(e.stderr, "%s: %s refused the query: %s\n", p.Code, node.ID, p.Detail)
		for _, is := range p.Issues {
			fmt.Fprintf(e.stderr, "  %s\n", is)
		}
		if asJSON {
			if werr := e.printJSON(p); werr != nil {
				return werr
			}
		}
	case errors.As(err, &pe):
		fmt.Fprintf(e.stderr, "%s at %s answered HTTP %d without a problem document: not a crvsx peer API %s\n", node.ID, node.APIURL, pe.Status, pe.Problem.Detail)
	case errors.Is(err, pintls.ErrPinMismatch):
		fmt.Fprintf(e.stderr, "%s at %s: its TLS key is not the one the bundle registers (%s); nothing was sent\n", node.ID, node.APIURL, pintls.ShortPin(node.TLSSPKISHA256))
	case unreachable(err):
		fmt.Fprintf(e.stderr, "%s at %s cannot be reached: %v\n", node.ID, node.APIURL, err)
	default:
		return err
	}
	return &exitError{code: exitCode(err), err: err, silent: true}
}

type queryResultJSON struct {
	Query   string          `json:"query"`
	Node    string          `json:"node"`
	File    string          `json:"file"`
	Verdict *attest.Verdict `json:"verdict"`
}
