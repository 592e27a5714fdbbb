package node_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/protocoltest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The console on a running devnet node (node/console DESIGN §1): an
// operator logs in on the admin listener with an admin token and sees the
// registry's members; the health listener serves the public verify page
// and the trust bundle with the network's genesis pin, and verifies a
// birth message signed by another member; the local listener does not
// serve the console.
func TestConsoleOnARunningNode(t *testing.T) {
	n := startNet(t, nil)
	tj := n.Members["TJ"]
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		require.NoError(t, err)
		return resp, string(readAll(t, resp))
	}
	_, form := get(tj.AdminURL() + "/console/login")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	require.NotNil(t, csrf, form)
	resp, err := c.PostForm(tj.AdminURL()+"/console/login", url.Values{"csrf": {csrf[1]}, "token": {tj.AdminToken}})
	require.NoError(t, err)
	overview := string(readAll(t, resp))
	require.Equal(t, http.StatusOK, resp.StatusCode, overview)
	for _, m := range []string{`href="/console/member/TJ"`, `href="/console/member/TR"`, `href="/console/member/KZ"`} {
		assert.Contains(t, overview, m)
	}
	resp, member := get(tj.AdminURL() + "/console/member/TR")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, member, `<table id="member-keys">`)
	resp, _ = get(tj.AdminURL() + "/console/traffic")
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	resp, _ = get(tj.HealthURL() + "/console/bundle")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, n.Manifest.GenesisSHA256, resp.Header.Get("Crvs-Genesis-Sha256"))
	resp, page := get(tj.HealthURL() + "/console/verify")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, n.Manifest.GenesisSHA256)

	// DESIGN §13 (issue 12 item 4): a birth message signed by TR verifies
	// on TJ's public page against TJ's registry view; a tampered one does
	// not, with the signature's code.
	kb, err := os.ReadFile(n.Members["TR"].Config.Keys.SigningKey)
	require.NoError(t, err)
	signer, err := jws.ParsePrivateJWK(kb)
	require.NoError(t, err)
	id := protocol.NewUUID()
	birth, err := signer.Sign(protocol.TypEvent, protocoltest.BirthMessageAt(n.Members["TR"].NodeID, tj.NodeID, id, time.Now()))
	require.NoError(t, err)
	verify := func(token []byte) string {
		t.Helper()
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		require.NotNil(t, csrf, page)
		resp, err := c.PostForm(tj.HealthURL()+"/console/verify", url.Values{"csrf": {csrf[1]}, "token": {string(token)}})
		require.NoError(t, err)
		body := string(readAll(t, resp))
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		return body
	}
	good := verify(birth)
	assert.Contains(t, good, `data-outcome="valid"`)
	assert.Contains(t, good, `id="verdict-issuer">Türkiye (TR), <code>`+n.Members["TR"].NodeID+`</code>`)
	assert.Contains(t, good, `<code>event.live-birth</code>`)
	assert.Contains(t, good, `<code>`+id+`</code>`)
	assert.NotContains(t, good, "Rahimzoda", "no personal data on the verdict")
	bad := verify([]byte(string(birth[:len(birth)-4]) + "AAAA"))
	assert.Contains(t, bad, `data-outcome="not-valid"`)
	assert.Contains(t, bad, `id="verdict-code">JWS_SIGNATURE_INVALID`)
	assert.NotContains(t, bad, id)

	resp, _ = get(tj.HealthURL() + "/console/overview")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the health listener serves only the public pages")
	resp, _ = get(tj.LocalURL() + "/console/login")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the local listener does not serve the console")
}
