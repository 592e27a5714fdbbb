package protocol_test

import (
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
