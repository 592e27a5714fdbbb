package attest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
	"github.com/ecrn/crvsx/protocol/attest"
)

// TestPlainVerdict is SPEC §11.3 "The verdict is plain: who attests what,
// about which query, until when."
func TestPlainVerdict(t *testing.T) {
	w := newWorld(t)
	at := w.n.Now.Time().Add(-hour).Truncate(time.Minute)
	tok := sign(t, w.n.Member("TJ").Sig, mustBuild(t, answer(at)))
	view := w.View()
	day := at.Format("2006-01-02 15:04")
	until := at.Add(attest.DefaultValidity).Format("2006-01-02 15:04")

	t.Run("valid", func(t *testing.T) {
		v, err := attest.Verify(tok, view, at.Add(hour))
		if err != nil {
			t.Fatal(err)
		}
		want := "VALID — Tajikistan (TJ), Civil Registry Office, Ministry of Justice of the Republic of Tajikistan, attests, for query " + queryID +
			" of INT-UNHCR: registered: yes; vital status: no death registered; civil status: married. Attested " + day + " UTC, valid until " + until + " UTC."
		if got := v.String(); !strings.HasPrefix(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("expired-is-not-false", func(t *testing.T) {
		v, _ := attest.Verify(tok, view, at.Add(40*24*time.Hour))
		got := v.String()
		for _, frag := range []string{"EXPIRED — genuine but no longer current (expired is not false)", "registered: yes", "valid only until " + until, "Ask the issuer for a new attestation"} {
			if !strings.Contains(got, frag) {
				t.Fatalf("%q lacks %q", got, frag)
			}
		}
	})
	t.Run("not-valid-says-why-and-nothing-else", func(t *testing.T) {
		v, _ := attest.Verify(flipPayload(t, tok), view, at.Add(hour))
		got := v.String()
		if !strings.HasPrefix(got, "NOT VALID — the signature does not match the content") || !strings.HasSuffix(got, "(JWS_SIGNATURE_INVALID).") {
			t.Fatalf("%q", got)
		}
		if strings.Contains(got, "widowed") || strings.Contains(got, "Tajikistan") {
			t.Fatalf("a NOT VALID verdict repeats the forged claim: %q", got)
		}
	})
	t.Run("refused-and-no-match-say-so", func(t *testing.T) {
		a := answer(at)
		a.MatchResult, a.Answers, a.RefusalReason = attest.MatchRefused, nil, "no-legal-basis"
		v, err := attest.Verify(sign(t, w.n.Member("TJ").Sig, mustBuild(t, a)), view, at.Add(hour))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(v.String(), "it declines to answer (no legal basis).") {
			t.Fatalf("%q", v.String())
		}
	})
	t.Run("canonical-json", func(t *testing.T) {
		v, _ := attest.Verify(tok, view, at.Add(hour))
		raw, err := v.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if doc["outcome"] != "valid" || doc["attestedAt"] != at.UTC().Format(time.RFC3339) || doc["verdict"] != v.String() ||
			doc["issuer"].(map[string]any)["country"] != "TJ" || doc["answers"].(map[string]any)["civilStatus"] != "married" {
			t.Fatalf("%s", raw)
		}
		if strings.ContainsAny(string(raw), "\n ") && strings.Contains(string(raw), "\n") {
			t.Fatalf("not compact: %s", raw)
		}
		if i, j := strings.Index(string(raw), `"answers"`), strings.Index(string(raw), `"verdict"`); i < 0 || j < i {
			t.Fatalf("members not sorted: %s", raw)
		}
		ex, _ := attest.Verify(tok, view, at.Add(40*24*time.Hour))
		raw, _ = ex.CanonicalJSON()
		if !strings.Contains(string(raw), `"outcome":"expired"`) || !strings.Contains(string(raw), `"code":"ATTESTATION_EXPIRED"`) {
			t.Fatalf("%s", raw)
		}
	})
}

func TestIsAttestation(t *testing.T) {
	w := newWorld(t)
	msg := mustBuild(t, answer(t0))
	tj := w.n.Member("TJ").Sig
	ev, err := tj.Sign(protocol.TypEvent, msg)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		tok  []byte
		want bool
	}{
		"attestation":        {sign(t, tj, msg), true},
		"event":              {ev, false},
		"empty":              {nil, false},
		"no-dot":             {[]byte("eyJ0eXAiOiJjcnZzLWF0dGVzdGF0aW9uK2p3cyJ9"), false},
		"header-only":        {[]byte("eyJ0eXAiOiJjcnZzLWF0dGVzdGF0aW9uK2p3cyJ9.."), true},
		"application-prefix": {[]byte("eyJ0eXAiOiJhcHBsaWNhdGlvbi9DUlZTLUFUVEVTVEFUSU9OK0pXUyJ9.x.y"), true},
		"not-base64":         {[]byte("!!!.x.y"), false},
	} {
		if got := attest.IsAttestation(c.tok); got != c.want {
			t.Errorf("%s: %v", name, got)
		}
	}
}
