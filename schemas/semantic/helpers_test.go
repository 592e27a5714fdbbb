package semantic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/ecrn/crvsx/protocol"
)

// mustDecode decodes a message the way the node does: UseNumber, then NFC
// on every string.
func mustDecode(t testing.TB, raw string) map[string]any {
	t.Helper()
	doc, err := decode([]byte(raw))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("not a JSON object")
	}
	return m
}

func decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return nfc(v), nil
}

func nfc(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = nfc(e)
		}
	case []any:
		for i, e := range x {
			x[i] = nfc(e)
		}
	case string:
		return norm.NFC.String(x)
	}
	return v
}

// resolve follows an RFC 6901 pointer; ok is false when nothing is there.
func resolve(doc any, pointer string) (parent any, last string, v any, ok bool) {
	if pointer == "" {
		return nil, "", doc, true
	}
	if !strings.HasPrefix(pointer, "/") {
		return nil, "", nil, false
	}
	v = doc
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		parent, last = v, tok
		switch x := v.(type) {
		case map[string]any:
			v, ok = x[tok]
			if !ok {
				return parent, last, nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return parent, last, nil, false
			}
			v = x[i]
		default:
			return parent, last, nil, false
		}
	}
	return parent, last, v, true
}

// edit is one change to a base message: set the value at a pointer (whose
// parent must exist), or delete it when del is true.
type edit struct {
	ptr string
	val any
	del bool
}

func set(ptr string, val any) edit { return edit{ptr: ptr, val: val} }
func del(ptr string) edit          { return edit{ptr: ptr, del: true} }

// num is a JSON number as UseNumber decodes it.
func num(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// raw is a JSON value given as text (objects, arrays).
func raw(t testing.TB, s string) any {
	t.Helper()
	v, err := decode([]byte(s))
	if err != nil {
		t.Fatalf("raw %q: %v", s, err)
	}
	return v
}

func apply(t testing.TB, doc map[string]any, edits []edit) {
	t.Helper()
	for _, e := range edits {
		i := strings.LastIndex(e.ptr, "/")
		_, _, parent, ok := resolve(doc, e.ptr[:i])
		if !ok {
			t.Fatalf("edit %s: no parent", e.ptr)
		}
		tok := e.ptr[i+1:]
		switch p := parent.(type) {
		case map[string]any:
			if e.del {
				delete(p, tok)
			} else {
				p[tok] = e.val
			}
		case []any:
			n, err := strconv.Atoi(tok)
			if err != nil || n >= len(p) || e.del {
				t.Fatalf("edit %s: bad array edit", e.ptr)
			}
			p[n] = e.val
		default:
			t.Fatalf("edit %s: parent is not a container", e.ptr)
		}
	}
}

// summary renders issues as "CODE /pointer" (warnings prefixed "warn:").
func summary(issues []protocol.Issue) []string {
	out := []string{}
	for _, is := range issues {
		s := is.Code + " " + is.Pointer
		if is.Severity == protocol.SeverityWarning {
			s = "warn:" + s
		}
		out = append(out, s)
	}
	return out
}

func dump(issues []protocol.Issue) string {
	var b strings.Builder
	for _, is := range issues {
		fmt.Fprintf(&b, "\n\t%s %s %s: %s", is.Severity, is.Code, is.Pointer, is.Message)
	}
	return b.String()
}
