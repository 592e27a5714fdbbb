package protocol

// TypEqual compares a JWS header's typ with an expected one as RFC 7515
// §4.1.9 says and SPEC §6.3.4 profiles it: case-insensitively in ASCII
// only (media type names are ASCII; Unicode folding would let "ſ" stand
// for "s"), and a value without '/' standing for "application/" + value.
func TypEqual(got, want string) bool {
	return EqualFoldASCII(trimApplication(got), trimApplication(want))
}

func trimApplication(s string) string {
	const app = "application/"
	if len(s) > len(app) && EqualFoldASCII(s[:len(app)], app) {
		rest := s[len(app):]
		for i := 0; i < len(rest); i++ {
			if rest[i] == '/' {
				return s
			}
		}
		return rest
	}
	return s
}

// EqualFoldASCII reports whether a and b are equal when ASCII letters are
// folded to lower case; other bytes must be equal.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
