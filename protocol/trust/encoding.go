package trust

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/ecrn/crvsx/protocol"
)

// Timestamp is an instant in whole seconds since the Unix epoch, written in
// JSON as RFC 3339 UTC with whole seconds and "Z" (REGISTRY.md §1). Zero means
// "unset" and is omitted from the canonical encoding.
type Timestamp int64

// TimestampOf floors t to the second.
func TimestampOf(t time.Time) Timestamp {
	s := t.Unix()
	return Timestamp(s)
}

// Time returns the instant as a time.Time in UTC.
func (ts Timestamp) Time() time.Time { return time.Unix(int64(ts), 0).UTC() }

const timeLayout = "2006-01-02T15:04:05Z"

// MinTimestamp and MaxTimestamp bound a Timestamp: years 1 to 9999, the
// range RFC 3339 can spell in four digits.
const (
	MinTimestamp = -62135596800
	MaxTimestamp = 253402300799
)

func (ts Timestamp) String() string { return ts.Time().Format(timeLayout) }

// MarshalJSON writes the RFC 3339 form.
func (ts Timestamp) MarshalJSON() ([]byte, error) {
	if ts < MinTimestamp || ts > MaxTimestamp {
		return nil, fmt.Errorf("registry: timestamp %d out of range", int64(ts))
	}
	return []byte(`"` + ts.String() + `"`), nil
}

// UnmarshalJSON accepts exactly the one spelling of REGISTRY.md §1.
func (ts *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		return err
	}
	*ts = t
	return nil
}

// ParseTimestamp parses "YYYY-MM-DDTHH:MM:SSZ" and nothing else.
func ParseTimestamp(s string) (Timestamp, error) {
	if len(s) != len(timeLayout) {
		return 0, fmt.Errorf("time %q: must be RFC 3339 UTC with whole seconds, like 2026-01-02T15:04:05Z", s)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil || t.Format(timeLayout) != s {
		return 0, fmt.Errorf("time %q: must be RFC 3339 UTC with whole seconds, like 2026-01-02T15:04:05Z", s)
	}
	ts := TimestampOf(t)
	if ts < MinTimestamp || ts > MaxTimestamp {
		return 0, fmt.Errorf("time %q: out of range", s)
	}
	return ts, nil
}

// canonicalJSON returns the RFC 8785 (JCS) encoding of v as encoding/json
// marshals it, restricted to integers (REGISTRY.md §1).
func canonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return canonicalize(raw)
}

// canonicalize re-encodes JSON text in the JCS form.
func canonicalize(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON value")
	}
	var buf bytes.Buffer
	if err := writeJCS(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJCS(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil || n > 1<<53-1 || n < -(1<<53-1) {
			return fmt.Errorf("number %s: only integers within ±(2^53−1) are canonical here", x)
		}
		buf.WriteString(strconv.FormatInt(n, 10))
	case string:
		writeJCSString(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJCS(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		// > RFC 8785 §3.2.3: sorted by the UTF-16 code units of the names.
		sort.Slice(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJCSString(buf, k)
			buf.WriteByte(':')
			if err := writeJCS(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

func lessUTF16(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

// writeJCSString is RFC 8785 §3.2.2.2: escape '"', '\\' and controls, the
// named ones short, everything else literal.
func writeJCSString(buf *bytes.Buffer, s string) {
	const hexdig = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			buf.WriteString(`\"`)
		case c == '\\':
			buf.WriteString(`\\`)
		case c == '\b':
			buf.WriteString(`\b`)
		case c == '\f':
			buf.WriteString(`\f`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\r':
			buf.WriteString(`\r`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hexdig[c>>4])
			buf.WriteByte(hexdig[c&0xf])
		default:
			buf.WriteByte(c)
		}
	}
	buf.WriteByte('"')
}

// maxDepth bounds the nesting of every registry JSON input.
const maxDepth = 16

// DecodeStrict decodes an I-JSON object into v, refusing unknown members and
// member names that differ from the Go field's JSON name in case
// (encoding/json matches those case-insensitively; REGISTRY.md §1).
func DecodeStrict(data []byte, v any) error {
	if err := protocol.CheckJSON(data, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return err
	}
	return exactNames(generic, reflect.TypeOf(v), "")
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

func exactNames(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		names := jsonNames(t)
		for k, sub := range obj {
			ft, ok := names[k]
			if !ok {
				return fmt.Errorf("member %q at %q: no such member (names are case-sensitive)", k, path)
			}
			if err := exactNames(sub, ft, path+"/"+k); err != nil {
				return err
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for k, sub := range obj {
				if err := exactNames(sub, t.Elem(), path+"/"+k); err != nil {
					return err
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if arr, ok := v.([]any); ok {
			for i, sub := range arr {
				if err := exactNames(sub, t.Elem(), path+"/"+strconv.Itoa(i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func jsonNames(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// sum returns the lower-case hex SHA-256 of b.
func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// isUUID reports whether s is a UUID in lower-case 8-4-4-4-12 form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// addSeconds adds d seconds to ts, saturating instead of overflowing.
func addSeconds(ts Timestamp, d int64) Timestamp {
	if d > 0 && int64(ts) > math.MaxInt64-d {
		return math.MaxInt64
	}
	if d < 0 && int64(ts) < math.MinInt64-d {
		return math.MinInt64
	}
	return ts + Timestamp(d)
}
