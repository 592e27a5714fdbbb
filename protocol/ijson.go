package protocol

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// CheckJSON implements SPEC.md §6.5, the I-JSON profile (RFC 7493) every
// payload and protected header must meet before anything decodes it:
//
//   - one JSON object, with nothing but whitespace after it (no BOM);
//   - valid UTF-8, no unpaired surrogate escapes, no noncharacters;
//   - no duplicate member names in any object, compared after unescaping;
//   - nesting at most maxDepth objects and arrays deep;
//   - numbers representable as IEEE 754 doubles, integers within ±(2^53−1).
//
// It never panics and allocates only for escaped member names. The returned
// error is an *Error with one of the PAYLOAD_* codes and a JSON Pointer to
// the offending place where one exists.
func CheckJSON(data []byte, maxDepth int) error {
	s := scanner{data: data, maxDepth: maxDepth}
	return s.run()
}

type scanner struct {
	data     []byte
	pos      int
	maxDepth int
	depth    int
	path     []string // reference tokens of the current location, for errors
	keys     [][][]byte
	sets     []map[string]struct{} // per depth, for objects with many members
}

// linearKeys is how many member names an object's duplicate check scans
// linearly; past it a set keeps the check linear in the object's size, so
// a peer cannot make it quadratic.
const linearKeys = 16

func (s *scanner) fail(code Code, msg string) error {
	return &Error{Code: code, Detail: msg + " at byte " + strconv.Itoa(s.pos), Pointer: Pointer(s.path...)}
}

func (s *scanner) run() error {
	if !utf8.Valid(s.data) {
		return &Error{Code: CodePayloadUTF8, Detail: "invalid UTF-8"}
	}
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return s.fail(CodePayloadJSON, "a JSON object is expected")
	}
	if err := s.value(); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(s.data) {
		return s.fail(CodePayloadJSON, "data after the JSON value")
	}
	return nil
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value() error {
	if s.pos >= len(s.data) {
		return s.fail(CodePayloadJSON, "unexpected end of JSON")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object()
	case c == '[':
		return s.array()
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail(CodePayloadJSON, "invalid character")
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return s.fail(CodePayloadJSON, "invalid literal")
	}
	s.pos += len(lit)
	return nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > s.maxDepth {
		return s.fail(CodePayloadTooDeep, "nesting deeper than "+strconv.Itoa(s.maxDepth))
	}
	return nil
}

func (s *scanner) object() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++ // '{'
	for len(s.keys) < s.depth {
		s.keys = append(s.keys, nil)
	}
	keys := s.keys[s.depth-1][:0]
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.fail(CodePayloadJSON, "a member name is expected")
		}
		key, escaped, err := s.str()
		if err != nil {
			return err
		}
		dup := false
		if len(keys) < linearKeys {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					dup = true
					break
				}
			}
		} else {
			set := s.set(keys)
			if _, dup = set[string(key)]; !dup {
				set[string(key)] = struct{}{}
			}
		}
		if dup {
			s.path = append(s.path, string(key))
			err := s.fail(CodePayloadDup, "duplicate member name "+strconv.Quote(string(key)))
			s.path = s.path[:len(s.path)-1]
			return err
		}
		if escaped {
			key = bytes.Clone(key)
		}
		keys = append(keys, key)
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail(CodePayloadJSON, "':' is expected")
		}
		s.pos++
		s.ws()
		s.path = append(s.path, string(key))
		// The nested value may reuse deeper levels of s.keys; this level's
		// slice is saved back before that can matter.
		s.keys[s.depth-1] = keys
		if err := s.value(); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		if done, err := s.next('}'); err != nil || done {
			return err
		}
	}
}

// set returns the member-name set of the object at the current depth,
// filled from keys the first time the object crosses linearKeys.
func (s *scanner) set(keys [][]byte) map[string]struct{} {
	for len(s.sets) < s.depth {
		s.sets = append(s.sets, nil)
	}
	m := s.sets[s.depth-1]
	if m == nil || len(keys) == linearKeys {
		m = make(map[string]struct{}, 2*linearKeys)
		for _, k := range keys {
			m[string(k)] = struct{}{}
		}
		s.sets[s.depth-1] = m
	}
	return m
}

func (s *scanner) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++ // '['
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for i := 0; ; i++ {
		s.ws()
		s.path = append(s.path, strconv.Itoa(i))
		if err := s.value(); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		if done, err := s.next(']'); err != nil || done {
			return err
		}
	}
}

// next ends a member or an element: after white space, ',' continues the
// container (false) and end closes it (true).
func (s *scanner) next(end byte) (bool, error) {
	s.ws()
	if s.pos >= len(s.data) {
		return false, s.fail(CodePayloadJSON, "unexpected end of JSON")
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case end:
		s.pos++
		s.depth--
		return true, nil
	}
	return false, s.fail(CodePayloadJSON, "',' or '"+string(end)+"' is expected")
}

// str scans a string starting at '"'. It returns the raw content when there
// are no escapes (escaped=false, aliasing s.data) or the unescaped content.
func (s *scanner) str() (content []byte, escaped bool, err error) {
	s.pos++ // opening quote
	start := s.pos
	var buf []byte
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			raw := s.data[start:s.pos]
			s.pos++
			if buf != nil {
				return buf, true, nil
			}
			return raw, false, nil
		case c < 0x20:
			return nil, false, s.fail(CodePayloadJSON, "control character in string")
		case c == '\\':
			if buf == nil {
				buf = append(make([]byte, 0, s.pos-start+16), s.data[start:s.pos]...)
			}
			r, err := s.escape()
			if err != nil {
				return nil, false, err
			}
			buf = utf8.AppendRune(buf, r)
		case c < utf8.RuneSelf:
			if buf != nil {
				buf = append(buf, c)
			}
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if isNonchar(r) {
				return nil, false, s.fail(CodePayloadUTF8, "noncharacter in string")
			}
			if buf != nil {
				buf = append(buf, s.data[s.pos:s.pos+size]...)
			}
			s.pos += size
		}
	}
	return nil, false, s.fail(CodePayloadJSON, "unterminated string")
}

// escape decodes one escape sequence at s.pos ('\\'), including a surrogate
// pair, and advances past it.
func (s *scanner) escape() (rune, error) {
	if s.pos+1 >= len(s.data) {
		return 0, s.fail(CodePayloadJSON, "unterminated escape")
	}
	c := s.data[s.pos+1]
	s.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := s.hex4()
		if !ok {
			return 0, s.fail(CodePayloadJSON, "invalid \\u escape")
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return 0, s.fail(CodePayloadUTF8, "unpaired low surrogate escape")
		case r >= 0xD800 && r <= 0xDBFF:
			if s.pos+1 >= len(s.data) || s.data[s.pos] != '\\' || s.data[s.pos+1] != 'u' {
				return 0, s.fail(CodePayloadUTF8, "unpaired high surrogate escape")
			}
			s.pos += 2
			lo, ok := s.hex4()
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return 0, s.fail(CodePayloadUTF8, "unpaired high surrogate escape")
			}
			r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
		}
		if isNonchar(r) {
			return 0, s.fail(CodePayloadUTF8, "noncharacter in string")
		}
		return r, nil
	}
	return 0, s.fail(CodePayloadJSON, "invalid escape")
}

func (s *scanner) hex4() (rune, bool) {
	r, ok := Hex4(s.data[s.pos:])
	if ok {
		s.pos += 4
	}
	return r, ok
}

func isNonchar(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

const maxExactInt = 1 << 53

func (s *scanner) number() error {
	start := s.pos
	integer := true
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.data) {
		return s.fail(CodePayloadJSON, "invalid number")
	}
	switch c := s.data[s.pos]; {
	case c == '0':
		s.pos++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return s.fail(CodePayloadJSON, "invalid number")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		integer = false
		s.pos++
		if s.digits() == 0 {
			return s.fail(CodePayloadJSON, "invalid number")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		integer = false
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.fail(CodePayloadJSON, "invalid number")
		}
	}
	lit := s.data[start:s.pos]
	if _, err := strconv.ParseFloat(string(lit), 64); err != nil { // only ErrRange is possible after the scan above
		return s.fail(CodePayloadNumber, "number out of range")
	}
	if integer && len(lit) >= 16 {
		n, err := strconv.ParseInt(string(lit), 10, 64)
		if err != nil || n >= maxExactInt || n <= -maxExactInt {
			return s.fail(CodePayloadNumber, "integer outside ±(2^53−1)")
		}
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}
