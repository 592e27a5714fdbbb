package devnet

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ecrn/crvsx/node/exchange"
	"github.com/ecrn/crvsx/node/internal/scaffold"
	"github.com/ecrn/crvsx/node/query"
	"github.com/ecrn/crvsx/node/records"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// Summary is what the demo did and saw.
type Summary struct {
	Sent             int  `json:"sent"`              // per-recipient messages queued
	Delivered        int  `json:"delivered"`         // delivered with a receipt
	ReceiptsVerified int  `json:"receipts_verified"` // receipts re-checked by the demo against the sender's trust view
	Received         int  `json:"received"`          // records in the recipients' inboxes
	Rejected         int  `json:"rejected"`          // submissions or deliveries refused
	Duplicates       int  `json:"duplicates"`        // a message found more than once in an inbox
	Missing          int  `json:"missing"`           // a delivered message not found in its recipient's inbox
	OutOfOrder       int  `json:"out_of_order"`      // queued messages that arrived out of submission order
	KeyRotated       bool `json:"key_rotated"`
	// StatusMatch is the matchResult of the responder's query to TJ
	// (step 6), and AttestationOffline whether its attestation verified
	// offline, against the trust bundle, with every node stopped.
	StatusMatch        string   `json:"status_match"`
	AttestationOffline bool     `json:"attestation_verified_offline"`
	Steps              []string `json:"steps"`
}

// OK reports whether everything arrived exactly once and in order.
func (s *Summary) OK() bool {
	return s.Sent > 0 && s.Delivered == s.Sent && s.ReceiptsVerified == s.Sent && s.Received == s.Sent &&
		s.Rejected == 0 && s.Duplicates == 0 && s.Missing == 0 && s.OutOfOrder == 0 && s.KeyRotated &&
		s.StatusMatch == "unique-match" && s.AttestationOffline
}

// sent is one queued message the demo follows.
type sent struct {
	from, to   string
	submission string
	messageID  string
	digest     string
}

// demoCountries are the members the demo needs.
var demoCountries = []string{"TJ", "TR", "KZ"}

// CheckDemo reports whether a network of these countries can run the demo,
// which needs TJ, TR and KZ: crvsx devnet asks before it starts anything.
func CheckDemo(countries []string) error {
	var missing []string
	for _, c := range demoCountries {
		if !slices.Contains(countries, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("devnet: the demo needs TJ, TR and KZ (missing: %s)", strings.Join(missing, ", "))
	}
	return nil
}

// Demo runs the devnet's demonstration on a started network of at least
// TJ, TR and KZ, logging each step for a newcomer to follow:
//
//  1. TR registers the birth of a Tajik child in İstanbul; TJ receives it.
//  2. KZ registers the death of a Turkish citizen in Almaty; TR receives it.
//  3. TR registers the divorce of a marriage registered in Tajikistan; TJ
//     receives it.
//  4. TJ rotates its signing key through the registry; every node picks up
//     the new key, and TJ's next message (a marriage in Dushanbe of a
//     Tajik and a Kazakh citizen) is accepted by KZ.
//  5. KZ's node stops; TR registers three births of Kazakh children in
//     İstanbul, which queue; KZ restarts and receives them in order.
//  6. A displaced person's check: the founders register UNHCR as a
//     requester (requester.register); TJ's national system imports its
//     person records (POST /v1/records); UNHCR asks TJ, over pinned mTLS,
//     whether a man who gives his name in Latin letters and only his birth
//     year is registered, alive by the registry's knowledge and married
//     (POST /v1/queries); TJ answers a signed attestation; every node
//     stops, and the attestation is verified offline against the trust
//     bundle replayed from the genesis; the nodes start again.
//
// It returns the summary; its error is for a failure to run the demo.
func Demo(ctx context.Context, n *Network, log *slog.Logger) (*Summary, error) {
	if err := CheckDemo(n.Countries()); err != nil {
		return nil, err
	}
	d := &demo{n: n, log: log, sum: &Summary{}}
	steps := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"1. TR registers the birth of a Tajik child in İstanbul → TJ", d.step1},
		{"2. KZ registers the death of a Turkish citizen in Almaty → TR", d.step2},
		{"3. TR registers the divorce of a marriage registered in Tajikistan → TJ", d.step3},
		{"4. TJ rotates its signing key; KZ accepts TJ's next message", d.step4},
		{"5. KZ's node stops; TR's messages to KZ queue; KZ restarts and receives them in order", d.step5},
		{"6. UNHCR checks a displaced Tajik's status with TJ; the attestation holds offline after every node stops", d.step6},
	}
	for _, s := range steps {
		log.Info("demo: " + s.name)
		d.sum.Steps = append(d.sum.Steps, s.name)
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := s.run(sctx)
		cancel()
		if err != nil {
			return d.sum, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if err := d.check(ctx); err != nil {
		return d.sum, err
	}
	return d.sum, nil
}

type demo struct {
	n    *Network
	log  *slog.Logger
	sum  *Summary
	sent []sent
}

func (d *demo) client(c string) *server.LocalClient {
	m := d.n.Members[c]
	return &server.LocalClient{BaseURL: m.LocalURL(), Token: m.Token}
}

// submit queues a sample from a member's national system (routing decides
// the recipients) and returns what was queued.
func (d *demo) submit(ctx context.Context, from, sample string) ([]sent, error) {
	// A fresh messageId per submission: the node assigns one when the
	// template has none.
	body, err := Template(sample)
	if err != nil {
		return nil, err
	}
	v, err := d.client(from).Submit(ctx, body, nil, "")
	if err != nil {
		d.sum.Rejected++
		return nil, err
	}
	var out []sent
	for _, dl := range v.Deliveries {
		s := sent{from: from, to: dl.Recipient, submission: v.ID, messageID: dl.MessageID, digest: dl.SHA256}
		d.log.Info("demo: queued", slog.String("from", from), slog.String("to", dl.Recipient), slog.String("sample", sample),
			slog.String("messageId", dl.MessageID), slog.String("submission", v.ID))
		out = append(out, s)
	}
	d.sum.Sent += len(out)
	d.sent = append(d.sent, out...)
	return out, nil
}

// waitDelivered waits until every message is delivered (a receipt that the
// sender's node checked) or dead.
func (d *demo) waitDelivered(ctx context.Context, ss []sent) error {
	for _, s := range ss {
		for {
			v, err := d.client(s.from).Submission(ctx, s.submission)
			if err != nil {
				return err
			}
			var dl *server.DeliveryView
			for i := range v.Deliveries {
				if v.Deliveries[i].MessageID == s.messageID {
					dl = &v.Deliveries[i]
				}
			}
			if dl == nil {
				return fmt.Errorf("delivery %s not in submission %s", s.messageID, s.submission)
			}
			if dl.Status == "delivered" {
				d.log.Info("demo: delivered with a signed receipt", slog.String("from", s.from), slog.String("to", s.to),
					slog.String("messageId", s.messageID), slog.Int("attempts", dl.Attempts))
				if err := d.verifyReceipt(s, []byte(dl.Receipt)); err != nil {
					return err
				}
				d.sum.Delivered++
				break
			}
			if dl.Status == "dead" {
				d.sum.Rejected++
				return fmt.Errorf("delivery %s to %s dead-lettered: %s", s.messageID, s.to, dl.DeadReason)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("delivery %s to %s: still %s after %d attempts (%s): %w", s.messageID, s.to, dl.Status, dl.Attempts, dl.LastError, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// verifyReceipt re-checks a receipt as SPEC §8.3 says, against the
// sender's current trust view.
func (d *demo) verifyReceipt(s sent, receipt []byte) error {
	nd := d.n.Members[s.from].Node()
	if nd == nil {
		return fmt.Errorf("%s is not running", s.from)
	}
	var digest [32]byte
	if b, err := hex.DecodeString(s.digest); err != nil || len(b) != 32 {
		return fmt.Errorf("delivery %s: digest %q is not SHA-256 hex", s.messageID, s.digest)
	} else {
		copy(digest[:], b)
	}
	view := nd.Registry().View()
	if _, err := exchange.CheckReceipt(receipt, exchange.SentMessage{Recipient: s.to, MessageID: s.messageID, Digest: digest}, view, view, time.Now()); err != nil {
		return fmt.Errorf("receipt for %s: %w", s.messageID, err)
	}
	d.sum.ReceiptsVerified++
	return nil
}

func (d *demo) step1(ctx context.Context) error {
	ss, err := d.submit(ctx, "TR", "birth-tajik-child-in-istanbul.json")
	if err != nil {
		return err
	}
	return d.waitDelivered(ctx, ss)
}

func (d *demo) step2(ctx context.Context) error {
	ss, err := d.submit(ctx, "KZ", "death-turkish-citizen-in-almaty.json")
	if err != nil {
		return err
	}
	return d.waitDelivered(ctx, ss)
}

func (d *demo) step3(ctx context.Context) error {
	ss, err := d.submit(ctx, "TR", "divorce-of-marriage-registered-in-tajikistan.json")
	if err != nil {
		return err
	}
	return d.waitDelivered(ctx, ss)
}

func (d *demo) step4(ctx context.Context) error {
	if err := d.n.RotateSigningKey(ctx, "TJ"); err != nil {
		return err
	}
	d.sum.KeyRotated = true
	ss, err := d.submit(ctx, "TJ", "marriage-tajik-kazakh-couple-in-dushanbe.json")
	if err != nil {
		return err
	}
	return d.waitDelivered(ctx, ss)
}

func (d *demo) step5(ctx context.Context) error {
	d.log.Info("demo: stopping KZ's node")
	if err := d.n.StopMember("KZ"); err != nil {
		return err
	}
	var queued []sent
	for range 3 {
		ss, err := d.submit(ctx, "TR", "birth-kazakh-child-in-istanbul.json")
		if err != nil {
			return err
		}
		queued = append(queued, ss...)
	}
	// Let the deliveries fail against the stopped node for a moment.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		v, err := d.client("TR").Submission(ctx, queued[0].submission)
		if err != nil {
			return err
		}
		if v.Deliveries[0].Attempts > 0 {
			d.log.Info("demo: TR's delivery to KZ is failing while KZ is down", slog.Int("attempts", v.Deliveries[0].Attempts),
				slog.String("lastError", v.Deliveries[0].LastError))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.log.Info("demo: restarting KZ's node")
	if err := d.n.StartMember(ctx, "KZ"); err != nil {
		return err
	}
	if err := d.n.WaitReady(ctx); err != nil {
		return err
	}
	if err := d.waitDelivered(ctx, queued); err != nil {
		return err
	}
	// In order: KZ's inbox holds them in submission order.
	p, err := d.client("KZ").Inbox(ctx, 0, 1000)
	if err != nil {
		return err
	}
	var order []string
	for _, r := range p.Records {
		for _, q := range queued {
			if r.MessageID == q.messageID {
				order = append(order, r.MessageID)
			}
		}
	}
	for i, q := range queued {
		if i >= len(order) || order[i] != q.messageID {
			d.sum.OutOfOrder++
		}
	}
	return nil
}

// check counts, in every recipient's inbox, each message the demo sent:
// exactly once.
func (d *demo) check(ctx context.Context) error {
	seen := map[string]map[string]int{}
	for _, c := range d.n.Countries() {
		seen[c] = map[string]int{}
		var after uint64
		for {
			p, err := d.client(c).Inbox(ctx, after, 1000)
			if err != nil {
				return err
			}
			for _, r := range p.Records {
				seen[c][r.MessageID]++
			}
			if len(p.Records) == 0 || p.Next == after {
				break
			}
			after = p.Next
		}
	}
	for _, s := range d.sent {
		switch k := seen[s.to][s.messageID]; {
		case k == 0:
			d.sum.Missing++
		case k > 1:
			d.sum.Duplicates++
			d.sum.Received++
		default:
			d.sum.Received++
		}
	}
	return nil
}

// RotateSigningKey rotates a member's signing key through the registry: a
// key.rotate command signed by the member's governance key and by the new
// key (proof of possession), submitted to the member's node; it waits until
// every running node's trust view has the new key, then makes the member's
// node sign with it and saves it over the configured key file.
func (n *Network) RotateSigningKey(ctx context.Context, country string) error {
	m := n.Members[country]
	nd := m.Node()
	if nd == nil {
		return fmt.Errorf("%s is not running", country)
	}
	old := nd.Signer()
	fresh, err := jws.GenerateKey(country, jws.AlgES256)
	if err != nil {
		return err
	}
	jwk, err := jws.MarshalPublicJWK(fresh.Public())
	if err != nil {
		return err
	}
	now := trust.TimestampOf(time.Now())
	cmd, err := trust.NewCommand(n.Manifest.GenesisSHA256, protocol.NewUUID(), trust.CmdKeyRotate, now, country,
		trust.KeyRotateArgs{Old: old.Kid(), Key: trust.KeySpec{Role: trust.RoleSigning, JWK: jwk, NotBefore: now - 60, NotAfter: now + 5*365*86400}})
	if err != nil {
		return err
	}
	signed, err := cmd.Sign(m.Gov, fresh)
	if err != nil {
		return err
	}
	res, err := nd.Registry().Submit(ctx, signed)
	if err != nil {
		return err
	}
	if rerr := res.Err(); rerr != nil {
		return rerr
	}
	n.Log.Info("demo: key.rotate applied by the registry", slog.String("member", country), slog.String("old", old.Kid()), slog.String("new", fresh.Kid()))
	// Every running node sees the new key.
	for _, c := range n.Countries() {
		other := n.Members[c].Node()
		if other == nil {
			continue
		}
		start := time.Now()
		for {
			if k, ok := other.Registry().View().LookupKey(fresh.Kid()); ok && k.Member == country {
				n.Log.Info("demo: new key visible", slog.String("node", n.Members[c].NodeID), slog.Duration("after", time.Since(start)))
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never saw %s: %w", c, fresh.Kid(), ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	if err := nd.SetSigner(fresh); err != nil {
		return err
	}
	priv, err := jws.MarshalPrivateJWK(fresh)
	if err != nil {
		return err
	}
	tmp := m.Config.Keys.SigningKey + ".new"
	if err := scaffold.WriteFile(tmp, priv, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, m.Config.Keys.SigningKey)
}

// step6 is the displaced person's check (SPEC §11).
func (d *demo) step6(ctx context.Context) error {
	n := d.n
	r, err := n.RegisterResponder(ctx)
	if err != nil {
		return fmt.Errorf("register %s: %w", ResponderID, err)
	}
	tj := n.Members["TJ"]
	rep, err := (&records.Client{BaseURL: tj.LocalURL(), Token: tj.Token}).Import(ctx, DisplacedRecords)
	if err != nil {
		return fmt.Errorf("TJ's records import: %w", err)
	}
	if rep.Rejected > 0 {
		return fmt.Errorf("TJ's records import rejected %d lines: %+v", rep.Rejected, rep.Errors)
	}
	d.log.Info("demo: TJ's national system imported its person records", slog.Int("lines", rep.Lines), slog.Int("created", rep.Created), slog.Int("unchanged", rep.Unchanged))

	view := tj.Node().Registry().View()
	req, ok := view.Requester(r.ID)
	if !ok {
		return fmt.Errorf("%s is not in TJ's trust view", r.ID)
	}
	target, ok := view.NodeOfMember("TJ")
	if !ok {
		return fmt.Errorf("TJ has no node in its own trust view")
	}
	questions := []string{"is-registered", "vital-status", "civil-status"}
	payload, qid, err := query.NewQuery(query.Ask{Requester: r.ID, OrganizationType: req.OrganizationType, Node: target,
		Purpose: "humanitarian-verification", Basis: "data-subject-consent", Method: "written",
		ObtainedAt: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), CaseRef: "IST-2026-004211",
		Subject: DisplacedSubject, Questions: questions})
	if err != nil {
		return fmt.Errorf("the query: %w", err)
	}
	tok, err := query.SignQuery(r.Signer, payload)
	if err != nil {
		return err
	}
	att, err := query.Send(ctx, target, r.TLS, tok, 10*time.Second)
	if err != nil {
		return fmt.Errorf("%s asked TJ: %w", r.ID, err)
	}
	attFile := filepath.Join(r.Dir, "attestation.jws")
	if err := scaffold.WriteFile(attFile, append(att, '\n'), 0o644); err != nil {
		return err
	}
	b, err := tj.Node().Registry().Bundle()
	if err != nil {
		return err
	}
	bundle, err := b.Marshal()
	if err != nil {
		return err
	}
	bundleFile := filepath.Join(n.Dir, "trust-bundle.json")
	if err := scaffold.WriteFile(bundleFile, bundle, 0o644); err != nil {
		return err
	}
	d.log.Info("demo: TJ answered with a signed attestation", slog.String("query", qid), slog.String("file", attFile), slog.Int("bytes", len(att)))

	// Offline: no node runs while the attestation is checked.
	d.log.Info("demo: stopping every node; the attestation is checked with the trust bundle alone")
	n.Stop()
	parsed, err := trust.ParseBundle(bundle)
	if err != nil {
		return err
	}
	st, _, err := trust.Replay(parsed, n.Manifest.GenesisSHA256)
	if err != nil {
		return fmt.Errorf("replay the trust bundle: %w", err)
	}
	v, err := attest.Verify(att, trust.NewView(st), time.Now())
	if err != nil {
		return fmt.Errorf("offline verification: %w", err)
	}
	if v.InResponseTo != qid {
		return fmt.Errorf("the attestation answers %s, not %s", v.InResponseTo, qid)
	}
	d.sum.StatusMatch = v.MatchResult
	d.sum.AttestationOffline = v.Valid()
	d.log.Info("demo: offline verdict: "+v.String(),
		slog.String("verify", fmt.Sprintf("crvsx verify --bundle %s --genesis-sha256 %s %s", bundleFile, n.Manifest.GenesisSHA256, attFile)),
		slog.String("qr", fmt.Sprintf("crvsx attest qr %s --out %s", attFile, filepath.Join(r.Dir, "attestation.png"))),
		slog.String("ask_again", fmt.Sprintf("crvsx query --key %s --tls-key %s --to TJ --subject %s --question vital-status --purpose humanitarian-verification --basis data-subject-consent --bundle %s --genesis-sha256 %s",
			r.KeyFile, r.TLSKey, r.Subject, bundleFile, n.Manifest.GenesisSHA256)))
	d.log.Info("demo: starting every node again")
	return n.Start(ctx)
}
