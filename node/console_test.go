package node_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The console on a running devnet node (node/console DESIGN §1): an
// operator logs in on the admin listener with an admin token and sees the
// registry's members; the health listener serves the public verify page
// and the trust bundle with the network's genesis pin; the local listener
// does not serve the console.
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
	resp, _ = get(tj.HealthURL() + "/console/overview")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the health listener serves only the public pages")
	resp, _ = get(tj.LocalURL() + "/console/login")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the local listener does not serve the console")
}
