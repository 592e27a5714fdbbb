package schemas

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ecrn/crvsx/protocol"
	"golang.org/x/text/unicode/norm"
)

// decodeNFC decodes a message that protocol.CheckJSON has accepted into the
// tree encoding/json would build with UseNumber (map[string]any, []any,
// string, json.Number, bool, nil), with every string — member names
// included — normalised to NFC on the way. The tests hold it to
// encoding/json (followed by NFC) on every fixture and in FuzzValidate.
//
// It exists because decoding was a third of the cost of validating a
// message: encoding/json scans every value twice and allocates every
// string. Here the message is copied into one string once, and strings
// without escapes and numbers are slices of it (so the decoded document
// keeps the message's text alive); member names are nearly all the
// schema's own, interned.
//
// Two member names that differ only in normalisation are duplicates after
// it (RFC 7493 asks for unique names; keeping one of them would hide the
// other): PAYLOAD_DUPLICATE_NAME.
func decodeNFC(msg []byte, names map[string]string) (map[string]any, error) {
	d := decoder{data: msg, text: string(msg), names: names}
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, d.malformed()
	}
	m, err := d.object()
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.pos != len(d.data) {
		return nil, d.malformed()
	}
	return m, nil
}

type decoder struct {
	data  []byte
	text  string // data as a string, copied once: strings and numbers are slices of it
	pos   int
	path  []string          // reference tokens, for errors
	names map[string]string // interned member names (read-only)
	buf   []byte            // scratch for unescaping
}

// malformed reports input CheckJSON should have refused; it is a
// defensive answer, never expected.
func (d *decoder) malformed() error {
	return &protocol.Error{Code: protocol.CodePayloadJSON, Detail: "malformed JSON at byte " + strconv.Itoa(d.pos)}
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value() (any, error) {
	d.ws()
	if d.pos >= len(d.data) {
		return nil, d.malformed()
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, err := d.str(false)
		return s, err
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.pos
		for d.pos < len(d.data) {
			switch d.data[d.pos] {
			case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				d.pos++
				continue
			}
			break
		}
		return json.Number(d.text[start:d.pos]), nil
	}
	return nil, d.malformed()
}

func (d *decoder) literal(lit string) error {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return d.malformed()
	}
	d.pos += len(lit)
	return nil
}

func (d *decoder) object() (map[string]any, error) {
	d.pos++ // '{'
	m := make(map[string]any)
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.malformed()
		}
		k, err := d.str(true)
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, &protocol.Error{
				Code:    protocol.CodePayloadDup,
				Detail:  "duplicate member name " + strconv.Quote(k) + " after NFC normalisation",
				Pointer: protocol.Pointer(append(d.path, k)...),
			}
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.malformed()
		}
		d.pos++
		d.path = append(d.path, k)
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.path = d.path[:len(d.path)-1]
		m[k] = v
		if done, err := d.next('}'); err != nil || done {
			return m, err
		}
	}
}

func (d *decoder) array() ([]any, error) {
	d.pos++ // '['
	s := []any{}
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return s, nil
	}
	for {
		d.path = append(d.path, strconv.Itoa(len(s)))
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.path = d.path[:len(d.path)-1]
		s = append(s, v)
		if done, err := d.next(']'); err != nil || done {
			return s, err
		}
	}
}

// next ends a member or an element: after white space, ',' continues the
// container (false) and end closes it (true).
func (d *decoder) next(end byte) (bool, error) {
	d.ws()
	if d.pos >= len(d.data) {
		return false, d.malformed()
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		return false, nil
	case end:
		d.pos++
		return true, nil
	}
	return false, d.malformed()
}

// str decodes a string at '"', in NFC. Member names the bundle defines are
// interned.
func (d *decoder) str(name bool) (string, error) {
	d.pos++ // opening quote
	start := d.pos
	ascii := true
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			raw := d.text[start:d.pos]
			d.pos++
			if name {
				if s, ok := d.names[raw]; ok {
					return s, nil
				}
			}
			if ascii {
				return raw, nil
			}
			return nfc(raw), nil
		case c == '\\':
			return d.unescape(start, name)
		case c < 0x20:
			return "", d.malformed()
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return "", d.malformed()
}

// unescape finishes a string with escapes, from its start.
func (d *decoder) unescape(start int, name bool) (string, error) {
	b := append(d.buf[:0], d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.buf = b
			if name {
				if s, ok := d.names[string(b)]; ok {
					return s, nil
				}
			}
			return nfc(string(b)), nil
		case c < 0x20:
			return "", d.malformed()
		case c != '\\':
			b = append(b, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.data) {
			return "", d.malformed()
		}
		e := d.data[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.malformed()
			}
			if utf16.IsSurrogate(r) {
				// CheckJSON refused unpaired surrogates; decode the pair (and,
				// defensively, anything else as encoding/json does: U+FFFD).
				r2 := rune(-1)
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					var ok2 bool
					if r2, ok2 = d.hex4(); !ok2 {
						return "", d.malformed()
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						continue
					}
					d.pos = save
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", d.malformed()
		}
	}
	return "", d.malformed()
}

func (d *decoder) hex4() (rune, bool) {
	r, ok := protocol.Hex4(d.data[d.pos:])
	if ok {
		d.pos += 4
	}
	return r, ok
}

// nfc returns s in NFC; an ASCII string always is.
func nfc(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			if norm.NFC.IsNormalString(s) {
				return s
			}
			return norm.NFC.String(s)
		}
	}
	return s
}

// memberNames collects every property name the schemas of a bundle define:
// the member names a valid message can contain, interned by the decoder.
// They are ASCII, hence already NFC.
func memberNames(files map[string]*schemaFile, into map[string]string) {
	for _, f := range files {
		forEachSchema(f.doc, "", func(m map[string]any, _ string) {
			props, _ := m["properties"].(map[string]any)
			for k := range props {
				if nfc(k) == k {
					into[k] = k
				}
			}
			req, _ := m["required"].([]any)
			for _, r := range req {
				if k, ok := r.(string); ok && nfc(k) == k {
					into[k] = k
				}
			}
		})
	}
}
