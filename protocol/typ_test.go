package protocol_test

import (
	"regexp"
	"testing"

	"github.com/ecrn/crvsx/protocol"
)

func TestTypEqual(t *testing.T) {
	for _, tc := range []struct {
		got  string
		want bool
	}{
		{"crvs-event+jws", true},
		{"CRVS-Event+JWS", true},
		{"application/crvs-event+jws", true},
		{"Application/CRVS-EVENT+JWS", true},
		{"application/", false},
		{"text/crvs-event+jws", false},
		{"application/application/crvs-event+jws", false},
		{"crvs-receipt+jws", false},
		{"crvs-event+jw\u017f", false},  // long s: Unicode folding maps it to "s"; media types are ASCII
		{"crvs-\u212aevent+jws", false}, // Kelvin sign
		{"", false},
	} {
		if got := protocol.TypEqual(tc.got, protocol.TypEvent); got != tc.want {
			t.Errorf("TypEqual(%q) = %v, want %v", tc.got, got, tc.want)
		}
	}
}

func TestNewUUIDAndHex4(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		u := protocol.NewUUID()
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("NewUUID() = %q: not a fresh lower-case v4 UUID", u)
		}
		seen[u] = true
	}
	for in, want := range map[string]rune{"00e9": 'é', "D83D": 0xD83D, "0041x": 'A'} {
		if r, ok := protocol.Hex4([]byte(in)); !ok || r != want {
			t.Errorf("Hex4(%q) = %U, %v", in, r, ok)
		}
	}
	for _, in := range []string{"00g1", "12", ""} {
		if _, ok := protocol.Hex4([]byte(in)); ok {
			t.Errorf("Hex4(%q) accepted", in)
		}
	}
}
