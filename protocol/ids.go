package protocol

import "regexp"

// memberNodeIDRe is SPEC §2's node id for a member's node (the country
// form; international organisations' INT- ids are not registered as nodes).
var memberNodeIDRe = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9]+(-[A-Z0-9]+){0,5}$`)

// IsMemberID reports whether s is a member id: an ISO 3166-1 alpha-2 code
// in upper case (SPEC §2).
func IsMemberID(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// IsMemberNodeID reports whether s is the node id of a member's node
// (SPEC §2), such as TJ-MOJ-CRVS. Its member is s[:2].
func IsMemberNodeID(s string) bool { return memberNodeIDRe.MatchString(s) }

// requesterIDRe is SPEC §11.1's requester id: an international
// organisation (INT-UNHCR) or a member's service (KG-BORDER).
var requesterIDRe = regexp.MustCompile(`^([A-Z]{2}|INT)-[A-Z0-9]+(-[A-Z0-9]+){0,5}$`)

// MaxRequesterIDLen bounds a requester id (REGISTRY.md §1), so that its
// kids (id, ":", 16 characters) stay within SPEC §2's 128.
const MaxRequesterIDLen = 64

// IsRequesterID reports whether s is a requester id (SPEC §11.1,
// REGISTRY.md §2.1) of at most MaxRequesterIDLen characters, such as
// INT-UNHCR or KG-BORDER. It is never a member id.
func IsRequesterID(s string) bool {
	return len(s) <= MaxRequesterIDLen && requesterIDRe.MatchString(s)
}

// IsSHA256Hex reports whether s is a SHA-256 digest written as 64
// lower-case hex digits: the form of genesis hashes, key pins and report
// digests everywhere in the protocol.
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
