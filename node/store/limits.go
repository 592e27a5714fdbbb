package store

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ecrn/crvsx/protocol"
)

// Limits (DESIGN.md §10).
const (
	maxNameLen      = 64
	maxIDLen        = 128
	maxBlob         = protocol.MaxMessageBytes
	maxDeliveries   = 64
	maxErrLen       = 1024
	maxHistory      = 8
	maxRejectCode   = 64
	maxRejectPeer   = 256
	maxRejectDetail = 1024
	maxPage         = 1000
	maxPageBytes    = 8 << 20
	defaultPage     = 100
	maxBatchBytes   = 16 << 20
)

// checkName accepts 1..max printable ASCII bytes (0x21–0x7e).
func checkName(s string, max int) error {
	if len(s) == 0 || len(s) > max {
		return fmt.Errorf("length %d is not in 1..%d", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("byte %#x at %d is not printable ASCII", c, i)
		}
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func checkField(what, s string, max int) error {
	if err := checkName(s, max); err != nil {
		return invalidf("%s: %w", what, err)
	}
	return nil
}

func checkBlob(what string, b []byte) error {
	if len(b) == 0 || len(b) > maxBlob {
		return invalidf("%s: %d bytes is not in 1..%d", what, len(b), maxBlob)
	}
	return nil
}

// sanitizeASCII makes peer-controlled text safe to keep: at most max bytes,
// every byte outside printable ASCII replaced by '?'.
func sanitizeASCII(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// truncateText keeps valid UTF-8 text of at most max bytes, cut at a rune
// boundary; invalid sequences become U+FFFD first.
func truncateText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
