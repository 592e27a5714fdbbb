package jws

import "testing"

// The header of a real token cannot carry these (the Signer refuses
// non-ASCII typs), so typEqual is tested directly: a hostile peer's header
// can.
func TestTypEqualFoldsASCIIOnly(t *testing.T) {
	for _, tc := range []struct {
		got  string
		want bool
	}{
		{"crvs-event+jws", true},
		{"CRVS-EVENT+JWS", true},
		{"application/crvs-event+jws", true},
		{"crvs-event+jw\u017f", false},  // long s: Unicode folding maps it to "s"; media types are ASCII
		{"crvs-event+j\u212aws", false}, // Kelvin sign, likewise for "k"
		{"\u212arvs-event+jws", false},
	} {
		if got := typEqual(tc.got, "crvs-event+jws"); got != tc.want {
			t.Errorf("typEqual(%q) = %v, want %v", tc.got, got, tc.want)
		}
	}
}
