package browsertest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/peer"
	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/query"
	"github.com/ecrn/crvsx/node/records"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"
	"github.com/ecrn/crvsx/protocol/trust"
)

// TestConsoleInABrowser is issue 12's "Done when" in headless Chromium,
// on one in-process devnet of TJ, TR and KZ: each subtest is a person's
// errand in a browser context of its own, every page it visits is checked
// for accessibility and photographed. The element ids are the console's
// page contract (node/console/templates).
//
// The subtests share the network and run in order; the dead letter's,
// which stops and restarts TJ, runs last.
func TestConsoleInABrowser(t *testing.T) {
	browser(t) // no browser fails here, before the network starts
	shots := screenshotDir(t)
	net := startNet(t)
	tj, tr, kz := net.Members["TJ"], net.Members["TR"], net.Members["KZ"]

	t.Run("log in and see the network", func(t *testing.T) {
		p := newPage(t, shots)
		login(p, tj)
		if got := p.path(); got != "/console/overview" {
			t.Fatalf("after login: at %s, want /console/overview", got)
		}
		var members []string
		for _, s := range p.texts("table#members tbody tr > :first-child") {
			members = append(members, strings.Fields(s)[0])
		}
		slices.Sort(members)
		if !slices.Equal(members, []string{"KZ", "TJ", "TR"}) {
			t.Errorf("table#members lists %v, want KZ, TJ, TR", members)
		}
		if leader := p.text("#registry-leader"); !slices.Contains(nodeIDs(net), leader) {
			t.Errorf("#registry-leader is %q, not a node of the network", leader)
		}
		// Every operator page, for the accessibility check and the pictures.
		p.follow("a#nav-traffic", "traffic")
		p.follow("a#nav-approvals", "approvals")
		p.follow("a#nav-verify", "verify")
		p.follow("a#nav-overview", "overview again")
		p.follow(`table#members a[href="/console/member/TR"]`, "member TR")
		if h1 := p.text("h1"); !strings.Contains(h1, "TR") {
			t.Errorf("the member page's h1 is %q, want TR's", h1)
		}
	})

	t.Run("follow a refused message to its reason", func(t *testing.T) {
		code := refuseAtTJ(t, tj, tr)
		p := newPage(t, shots)
		login(p, tj)
		p.follow("a#nav-traffic", "traffic with a refusal")
		row := `table#refused tr[data-code=` + cssString(code) + `]`
		p.waitFor(row)
		p.follow(row+" a.refused-link", "the refused message")
		if got := p.text("#refusal-code"); got != code {
			t.Errorf("#refusal-code is %q, want %q", got, code)
		}
		if reason := p.text("#refusal-reason"); reason == "" {
			t.Error("#refusal-reason is empty: the code's sentence is missing")
		}
	})

	t.Run("upload a signed approval", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		proposal, approval := proposeAndApprove(t, ctx, net, tj, tr, "INT-IOM")
		p := newPage(t, shots)
		login(p, kz)
		row := `table#proposals tr[data-proposal=` + cssString(proposal) + `]`
		p.waitFor(row)
		if missing := p.text(row + " .missing"); !strings.Contains(missing, "TR") || !strings.Contains(missing, "KZ") {
			t.Errorf("the proposal's .missing cell is %q: TR and KZ may still approve", missing)
		}
		p.follow("a#nav-approvals", "approvals")
		p.fill("textarea#approval-text", string(approval))
		p.follow("button#approval-submit", "approval submitted")
		if res := p.text("#approval-result"); !strings.Contains(res, proposal) {
			t.Errorf("#approval-result does not name the proposal %s: %q", proposal, res)
		}
		if p.has("#approval-problem") {
			t.Errorf("#approval-problem: %s", p.text("#approval-problem"))
		}
		waitUntil(t, ctx, "KZ's registry has INT-IOM", func() bool {
			_, ok := kz.Node().Registry().View().Requester("INT-IOM")
			return ok
		})
		p.follow("a#nav-overview", "overview after the approval")
		if p.has(row) {
			t.Errorf("the executed proposal %s is still listed as pending", proposal)
		}
	})

	t.Run("verify a good and a tampered attestation", func(t *testing.T) {
		att := attestation(t, net)
		p := newPage(t, shots)
		p.open(tj.HealthURL()+"/console/verify", "verify")
		if pin := p.text("#genesis-pin"); pin != net.Manifest.GenesisSHA256 {
			t.Errorf("#genesis-pin is %q, want the network's %s", pin, net.Manifest.GenesisSHA256)
		}
		if href := p.attr("a#bundle-link", "href"); href == "" {
			t.Error("a#bundle-link has no href")
		}
		p.fill("textarea#verify-text", string(att))
		p.follow("button#verify-submit", "a valid attestation")
		if got := p.attr("section#verdict", "data-outcome"); got != "valid" {
			t.Errorf("the verdict of TJ's attestation is %q (%s), want valid", got, p.text("section#verdict"))
		}
		if issuer := p.text("#verdict-issuer"); !strings.Contains(issuer, tj.NodeID) && !strings.Contains(issuer, "TJ") {
			t.Errorf("#verdict-issuer is %q, want TJ's", issuer)
		}
		p.fill("textarea#verify-text", string(tamper(att)))
		p.follow("button#verify-submit", "a tampered attestation")
		if got := p.attr("section#verdict", "data-outcome"); got != "not-valid" {
			t.Errorf("the verdict of a tampered attestation is %q (%s), want not-valid", got, p.text("section#verdict"))
		}
		if code := p.text("#verdict-code"); code == "" {
			t.Error("a not-valid verdict without #verdict-code")
		}
	})

	t.Run("switch language", func(t *testing.T) {
		cat := catalogues(t)
		p := newPage(t, shots)
		login(p, kz)
		for _, c := range []struct{ link, lang string }{{"", "en"}, {"a#lang-ru", "ru"}, {"a#lang-tr", "tr"}, {"a#lang-en", "en"}} {
			if c.link != "" {
				p.follow(c.link, "language "+c.lang)
			}
			if got := p.attr("html", "lang"); got != c.lang {
				t.Errorf("<html lang> is %q, want %q", got, c.lang)
			}
			if got, want := p.text("h1"), cat[c.lang]["overview.title"]; got != want {
				t.Errorf("%s: the overview's h1 is %q, want %q", c.lang, got, want)
			}
			if got, want := p.text("a#nav-traffic"), cat[c.lang]["nav.traffic"]; got != want {
				t.Errorf("%s: a#nav-traffic is %q, want %q", c.lang, got, want)
			}
		}
	})

	t.Run("log out", func(t *testing.T) {
		p := newPage(t, shots)
		login(p, tj)
		p.follow(`form#logout button[type="submit"]`, "logged out")
		if got := p.path(); got != "/console/login" {
			t.Errorf("after logout: at %s, want /console/login", got)
		}
		p.waitFor("form#login-form")
		p.open(tj.AdminURL()+"/console/overview", "overview after logout")
		if got := p.path(); got != "/console/login" {
			t.Errorf("the overview after logout: at %s, want the login page", got)
		}
	})

	t.Run("retry a dead letter", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		trc := &server.LocalClient{BaseURL: tr.LocalURL(), Token: tr.Token}
		if err := net.StopMember("TJ"); err != nil {
			t.Fatal(err)
		}
		body, err := devnet.Template("birth-tajik-child-in-istanbul.json")
		if err != nil {
			t.Fatal(err)
		}
		sub, err := trc.Submit(ctx, body, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.Node().Store().Submission(ctx, sub.ID)
		if err != nil || len(st.Deliveries) != 1 {
			t.Fatalf("the submission's deliveries: %v %+v", err, st)
		}
		ref := "delivery/" + strconv.FormatUint(uint64(st.Deliveries[0].Key), 10)
		waitUntil(t, ctx, "TR's delivery to the stopped TJ is dead", func() bool { return deliveryStatus(t, ctx, trc, sub.ID) == "dead" })
		if err := net.StartMember(ctx, "TJ"); err != nil {
			t.Fatal(err)
		}
		if err := net.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}

		p := newPage(t, shots)
		login(p, tr)
		p.follow("a#nav-traffic", "traffic with a dead letter")
		row := `table#dead-letters tr[data-ref=` + cssString(ref) + `]`
		p.waitFor(row)
		p.follow(row+` button[id=`+cssString("retry-"+ref)+`]`, "retried")
		if msg := p.text("#retried"); msg == "" {
			t.Error("#retried is empty")
		}
		waitUntil(t, ctx, "the retried delivery completes", func() bool {
			s := deliveryStatus(t, ctx, trc, sub.ID)
			if s == "dead" {
				t.Fatalf("dead again after the retry")
			}
			return s == "delivered"
		})
		p.follow("a#nav-traffic", "traffic after the delivery")
		if p.has(row) {
			t.Errorf("the delivered message %s is still a dead letter", ref)
		}
	})
}

// startNet starts the devnet the scenarios share: retries fast and never
// a breaker, and TR's messages dead after 5 s (the dead letter's errand).
func startNet(t *testing.T) *devnet.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := devnet.Open(t.TempDir(), devnet.Options{Fast: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range net.Members {
		m.Config.Exchange.BackoffCap = node.Duration(300 * time.Millisecond)
		m.Config.Exchange.BreakerFailures = 1000
	}
	net.Members["TR"].Config.Exchange.DeliveryLifetime = node.Duration(5 * time.Second)
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Stop)
	return net
}

func nodeIDs(net *devnet.Network) []string {
	var ids []string
	for _, m := range net.Members {
		ids = append(ids, m.NodeID)
	}
	return ids
}

// login logs in on a member's console with its operator token (the
// admin tokens file's first line).
func login(p *page, m *devnet.Member) {
	p.t.Helper()
	p.open(m.AdminURL()+"/console/login", "login "+m.Country)
	p.fill("input#token", m.AdminToken)
	p.follow(`form#login-form button[type="submit"]`, "overview "+m.Country)
	if p.has("#login-error") {
		p.t.Fatalf("login on %s refused: %s", m.Country, p.text("#login-error"))
	}
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within the time given: %v", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deliveryStatus is the status of a one-recipient submission's delivery.
func deliveryStatus(t *testing.T, ctx context.Context, c *server.LocalClient, id string) string {
	t.Helper()
	v, err := c.Submission(ctx, id)
	if err != nil {
		t.Fatalf("submission %s: %v", id, err)
	}
	if len(v.Deliveries) != 1 {
		t.Fatalf("submission %s has %d deliveries", id, len(v.Deliveries))
	}
	return v.Deliveries[0].Status
}

// refuseAtTJ makes TJ refuse an inbound message: TR's node (its own mTLS
// key, so the peer is known) sends a birth signed by TR's signing key
// whose signature was then broken. It returns the problem code TJ
// answered, which TJ's audit chain holds.
func refuseAtTJ(t *testing.T, tj, tr *devnet.Member) string {
	t.Helper()
	cert := loadTLS(t, tr)
	kb, err := os.ReadFile(tr.Config.Keys.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jws.ParsePrivateJWK(kb)
	if err != nil {
		t.Fatal(err)
	}
	nd, ok := tj.Node().Registry().View().Node(tj.NodeID)
	if !ok {
		t.Fatalf("%s is not in its own trust view", tj.NodeID)
	}
	c, err := peer.New(peer.Config{Certificate: cert, PinFor: func(string) (string, bool) { return nd.TLSSPKISHA256, true }, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tok, err := signer.Sign(protocol.TypEvent, protocoltest.BirthMessageAt(tr.NodeID, tj.NodeID, protocol.NewUUID(), time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), peer.NodeAddr{ID: tj.NodeID, URL: tj.PeerURL()}, tamper(tok))
	if err == nil {
		t.Fatal("TJ accepted a message whose signature is broken")
	}
	var pe *protocol.ProblemError
	if !errors.As(err, &pe) || pe.Problem.Code == "" {
		t.Fatalf("TJ's answer is not a problem document: %v", err)
	}
	return string(pe.Problem.Code)
}

func loadTLS(t *testing.T, m *devnet.Member) tls.Certificate {
	t.Helper()
	certPEM, err := os.ReadFile(m.Config.Keys.TLSCert)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(m.Config.Keys.TLSKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pintls.Load(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tamper changes one character in the middle of a compact JWS's
// signature: still three base64url parts, no longer a valid signature.
func tamper(tok []byte) []byte {
	out := []byte(strings.TrimSpace(string(tok)))
	i := strings.LastIndexByte(string(out), '.') + 1
	i += (len(out) - i) / 2
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

// proposeAndApprove proposes requester.register of id with proposer's
// governance key alone (the policy wants two of three members), and signs
// approver's proposal.approve offline, as "crvsx registry approve --out"
// does. It returns the proposal's id and the signed approval.
func proposeAndApprove(t *testing.T, ctx context.Context, net *devnet.Network, proposer, approver *devnet.Member, id string) (string, []byte) {
	t.Helper()
	key, err := jws.GenerateKey(id, jws.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jws.MarshalPublicJWK(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pintls.Generate(id, jws.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := pintls.Pin(cert)
	if err != nil {
		t.Fatal(err)
	}
	now := trust.TimestampOf(time.Now())
	cmd, err := trust.NewCommand(net.Manifest.GenesisSHA256, protocol.NewUUID(), trust.CmdRequesterRegister, now, proposer.Country,
		trust.RequesterRegisterArgs{Requester: trust.RequesterSpec{
			ID: id, Name: "International Organization for Migration", OrganizationType: "humanitarian-un",
			Keys:          []trust.RequesterKeySpec{{JWK: jwk, NotBefore: now - 60, NotAfter: now + 365*86400}},
			TLSSPKISHA256: pin, Countries: net.Countries(), Questions: []string{"is-registered"},
			Bases: []string{"data-subject-consent"}, Purposes: []string{"humanitarian-verification"},
			Rate: trust.Rate{PerMinute: 10, Burst: 2},
		}})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Propose = true
	signed, err := cmd.Sign(proposer.Gov)
	if err != nil {
		t.Fatal(err)
	}
	res, err := proposer.Node().Registry().Submit(ctx, signed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != trust.OutcomeProposed || res.Proposal == "" {
		t.Fatalf("the proposal: %s %s %s", res.Outcome, res.Reason, res.Detail)
	}
	var prop trust.Proposal
	waitUntil(t, ctx, "KZ's registry has the proposal", func() bool {
		var ok bool
		prop, ok = net.Members["KZ"].Node().Registry().State().Proposal(res.Proposal)
		return ok
	})
	ap, err := trust.NewCommand(net.Manifest.GenesisSHA256, protocol.NewUUID(), trust.CmdProposalApprove, trust.TimestampOf(time.Now()),
		approver.Country, trust.ApproveArgs{Proposal: prop.ID, PayloadSHA256: prop.PayloadSHA256})
	if err != nil {
		t.Fatal(err)
	}
	approval, err := ap.Sign(approver.Gov)
	if err != nil {
		t.Fatal(err)
	}
	return prop.ID, approval
}

// attestation is TJ's answer to UNHCR's status query about the devnet's
// displaced person (node/devnet's demo, step 6).
func attestation(t *testing.T, net *devnet.Network) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := net.RegisterResponder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tj := net.Members["TJ"]
	rep, err := (&records.Client{BaseURL: tj.LocalURL(), Token: tj.Token}).Import(ctx, devnet.DisplacedRecords)
	if err != nil || rep.Rejected > 0 {
		t.Fatalf("TJ's records import: %v %+v", err, rep)
	}
	view := tj.Node().Registry().View()
	req, ok := view.Requester(r.ID)
	if !ok {
		t.Fatalf("%s is not in TJ's trust view", r.ID)
	}
	target, ok := view.NodeOfMember("TJ")
	if !ok {
		t.Fatal("TJ has no node in its trust view")
	}
	payload, _, err := query.NewQuery(query.Ask{Requester: r.ID, OrganizationType: req.OrganizationType, Node: target,
		Purpose: "humanitarian-verification", Basis: "data-subject-consent", Method: "written",
		ObtainedAt: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), CaseRef: "IST-2026-004211",
		Subject: devnet.DisplacedSubject, Questions: []string{"is-registered", "vital-status"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := query.SignQuery(r.Signer, payload)
	if err != nil {
		t.Fatal(err)
	}
	att, err := query.Send(ctx, target, r.TLS, tok, 10*time.Second)
	if err != nil {
		t.Fatalf("%s asked TJ: %v", r.ID, err)
	}
	return att
}

// catalogues are the console's message catalogues (node/console/i18n).
func catalogues(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, lang := range []string{"en", "ru", "tr"} {
		b, err := os.ReadFile("../i18n/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		out[lang] = m
	}
	return out
}
