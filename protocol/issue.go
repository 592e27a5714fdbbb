package protocol

import "strings"

// Severity of an Issue (SPEC.md §7 "Problem codes").
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Issue is one finding about one place in a message: a leaf JSON Schema
// error or a rule of the semantic layer. Code is stable
// (^[A-Z][A-Z0-9_]{2,40}$) and is what callers and tests branch on; Pointer
// is an RFC 6901 JSON Pointer into the message ("" for the whole document);
// Message is for humans and may change between versions.
type Issue struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Pointer  string `json:"path"`
	Message  string `json:"message,omitempty"`
}

// String renders "CODE pointer message", the form the CLI prints.
func (i Issue) String() string {
	p := i.Pointer
	if p == "" {
		p = "/"
	}
	return i.Code + " " + p + " " + i.Message
}

// Pointer builds an RFC 6901 JSON Pointer from reference tokens, escaping
// "~" as "~0" and "/" as "~1".
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		if strings.ContainsAny(t, "~/") {
			t = strings.ReplaceAll(t, "~", "~0")
			t = strings.ReplaceAll(t, "/", "~1")
		}
		b.WriteString(t)
	}
	return b.String()
}
