package node_test

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/node"
	"github.com/ecrn/crvsx/node/console/view"
	"github.com/ecrn/crvsx/node/devnet"
	"github.com/ecrn/crvsx/node/store"
	"github.com/stretchr/testify/require"
)

// consoleUser is a browser without JavaScript: a cookie jar, forms posted
// with the page's CSRF token.
type consoleUser struct {
	t    *testing.T
	c    *http.Client
	base string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (u *consoleUser) get(path string) string {
	u.t.Helper()
	resp, err := u.c.Get(u.base + path)
	require.NoError(u.t, err)
	b := string(readAll(u.t, resp))
	require.Equal(u.t, http.StatusOK, resp.StatusCode, b)
	return b
}

func (u *consoleUser) post(path string, form url.Values) (*http.Response, string) {
	u.t.Helper()
	resp, err := u.c.PostForm(u.base+path, form)
	require.NoError(u.t, err)
	return resp, string(readAll(u.t, resp))
}

func loginConsole(t *testing.T, m *devnet.Member) *consoleUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	u := &consoleUser{t: t, c: &http.Client{Jar: jar}, base: m.AdminURL()}
	csrf := csrfField.FindStringSubmatch(u.get("/console/login"))
	require.NotNil(t, csrf)
	resp, body := u.post("/console/login", url.Values{"csrf": {csrf[1]}, "token": {m.AdminToken}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	return u
}

// TestConsolePagesOnADevnet: the console's pages on a running devnet,
// from a logged-in operator's browser: the overview with the members, the
// key calendar and the registered responder; the traffic of demo-like
// sends with a dead letter; "retry now" through the HTTP form (audited
// with the operator's name), the delivery completing; the message's
// timeline; the member page's keys and traffic. Personal data stays off
// (the node's default): no dead letter reason text.
func TestConsolePagesOnADevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := devnet.Open(t.TempDir(), devnet.Options{Fast: true}, nil)
	require.NoError(t, err)
	for _, m := range net.Members {
		m.Config.Exchange.BackoffCap = node.Duration(300 * time.Millisecond)
		m.Config.Exchange.BreakerFailures = 1000
	}
	net.Members["TR"].Config.Exchange.DeliveryLifetime = node.Duration(5 * time.Second)
	require.NoError(t, net.Start(ctx))
	t.Cleanup(net.Stop)
	_, err = net.RegisterResponder(ctx)
	require.NoError(t, err)
	tr := net.Members["TR"]

	// Demo-like sends: a birth from TR to TJ delivered; then one to a
	// stopped TJ, dead after TR's lifetime.
	ok, err := client(tr).Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	waitDelivered(t, client(tr), ok.ID)
	require.NoError(t, net.StopMember("TJ"))
	sub, err := client(tr).Submit(ctx, template(t, "birth-tajik-child-in-istanbul.json"), nil, "")
	require.NoError(t, err)
	st, err := tr.Node().Store().Submission(ctx, sub.ID)
	require.NoError(t, err)
	ref := "delivery/" + strconv.FormatUint(uint64(st.Deliveries[0].Key), 10)
	require.Eventually(t, func() bool {
		s, err := tr.Node().Store().Submission(ctx, sub.ID)
		require.NoError(t, err)
		return s.Deliveries[0].State == store.StateDead
	}, 30*time.Second, 100*time.Millisecond)

	u := loginConsole(t, tr)
	o := u.get("/console/overview")
	for _, want := range []string{`href="/console/member/TJ"`, `href="/console/member/KZ"`, `<table id="key-calendar">`, `data-warn="none"`,
		`<table id="requesters">`, `data-requester="INT-UNHCR"`, `<dd id="registry-leader">`, `<table id="replicas">`} {
		require.Contains(t, o, want)
	}
	// Registry health: a stopped replica is unreachable, with the reason.
	known, cell := replicaRow(t, o, net.Members["TJ"].NodeID)
	require.False(t, known, cell)
	require.Contains(t, cell, `Unreachable (<code class="reason">`+view.ReplicaConnectFailed+`</code>)`)

	traffic := u.get("/console/traffic?window=1h")
	for _, want := range []string{`<figure id="chart-out"><svg`, `<td id="total-out">2</td>`, `<td id="receipts">1</td>`, `<td id="total-dead">1</td>`,
		`id="latency-p50"`, `data-ref="` + ref + `"`, `id="retry-` + ref + `"`, "event.live-birth"} {
		require.Contains(t, traffic, want)
	}
	require.NotContains(t, traffic, "connect", "personal data off: no reason text")

	require.NoError(t, net.StartMember(ctx, "TJ"))
	require.NoError(t, net.WaitReady(ctx))
	form := regexp.MustCompile(`action="(/console/dead-letters/\d+/retry)"><input type="hidden" name="csrf" value="([^"]+)">`).FindStringSubmatch(traffic)
	require.NotNil(t, form)
	resp, body := u.post(html.UnescapeString(form[1]), url.Values{"csrf": {form[2]}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "/console/traffic", resp.Request.URL.Path, "redirected back to the traffic page")
	require.Contains(t, body, `id="retried"`)
	waitDelivered(t, client(tr), sub.ID)

	msg := u.get("/console/message/" + ref)
	for _, want := range []string{`<ol id="timeline"`, `data-kind="accepted"`, `data-kind="dead"`, `data-kind="retried"`, `data-kind="delivered"`,
		"Delivered (receipt verified)"} {
		require.Contains(t, msg, want)
	}
	audit, err := tr.Node().Store().AuditAfter(ctx, 0, 1000)
	require.NoError(t, err)
	found := false
	for _, e := range audit {
		// devnet's admin tokens file names its token "operator"
		found = found || e.Kind == store.AuditRetried && e.Ref == ref && strings.HasSuffix(e.Detail, " by operator")
	}
	require.True(t, found, "the retry is audited with the operator's token name")

	member := u.get("/console/member/TJ")
	for _, want := range []string{`<table id="member-keys">`, `class="key-history"`, "Valid from", `<table id="nodes">`, `<table id="member-traffic">`} {
		require.Contains(t, member, want)
	}

	// Registry health: every replica's applied index, as it answered
	// TR's request over the peer API; then KZ stopped is unreachable.
	o = u.get("/console/overview")
	for _, c := range []string{"TR", "TJ", "KZ"} {
		known, cell := replicaRow(t, o, net.Members[c].NodeID)
		require.True(t, known, "%s: %s", c, cell)
		applied := regexp.MustCompile(`<td class="applied">(\d+)</td>`).FindStringSubmatch(cell)
		require.NotNil(t, applied, cell)
		i, err := strconv.ParseUint(applied[1], 10, 64)
		require.NoError(t, err)
		require.Positive(t, i, "%s has applied the genesis and the registrations", c)
	}
	require.NoError(t, net.StopMember("KZ"))
	o = u.get("/console/overview")
	known, cell = replicaRow(t, o, net.Members["KZ"].NodeID)
	require.False(t, known, cell)
	require.Contains(t, cell, `Unreachable (<code class="reason">`)
	known, _ = replicaRow(t, o, net.Members["TJ"].NodeID)
	require.True(t, known, "the other replicas are still known")
}

// replicaRow is the overview's row of replica id in table#replicas: whether
// its status is known, and the row's HTML.
func replicaRow(t *testing.T, page, id string) (bool, string) {
	t.Helper()
	m := regexp.MustCompile(`<tr data-replica="` + regexp.QuoteMeta(id) + `" data-known="(true|false)">(.*?)</tr>`).FindStringSubmatch(page)
	require.NotNil(t, m, "no row for replica %s in table#replicas", id)
	return m[1] == "true", m[2]
}
