package protocol_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckJSON(t *testing.T) {
	deep := strings.Repeat(`{"a":`, protocol.MaxJSONDepth) + "1" + strings.Repeat("}", protocol.MaxJSONDepth)
	tooDeep := strings.Repeat(`{"a":`, protocol.MaxJSONDepth+1) + "1" + strings.Repeat("}", protocol.MaxJSONDepth+1)
	var large strings.Builder
	large.WriteString("{")
	for i := range 2000 {
		fmt.Fprintf(&large, "\"k%04d\":%d,", i, i)
	}
	largeOK := large.String() + `"end":0}`
	largeDup := large.String() + `"k1999":0}`
	tests := []struct {
		name    string
		in      string
		code    protocol.Code
		pointer string
	}{
		{"ok/object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, "", ""},
		{"ok/whitespace-around", " \n{\"a\":\"b\"}\n\t", "", ""},
		{"ok/escapes", `{"a\n":"\u00e9\ud83d\ude00\"\\\/"}`, "", ""},
		{"ok/same-name-in-sibling-objects", `{"a":{"x":1},"b":{"x":2},"c":[{"x":1},{"x":2}]}`, "", ""},
		{"ok/zwnj", "{\"name\":\"\u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627\"}", "", ""},
		{"ok/max-depth", deep, "", ""},
		{"ok/max-exact-integer", `{"n":9007199254740991,"m":-9007199254740991,"f":1.5e300}`, "", ""},
		{"fail/not-an-object", `[1,2]`, protocol.CodePayloadJSON, ""},
		{"fail/empty", ``, protocol.CodePayloadJSON, ""},
		{"fail/bom", "\ufeff{}", protocol.CodePayloadJSON, ""},
		{"fail/trailing-value", `{"a":1}{"b":2}`, protocol.CodePayloadJSON, ""},
		{"fail/trailing-garbage", `{"a":1}x`, protocol.CodePayloadJSON, ""},
		{"fail/unterminated", `{"a":1`, protocol.CodePayloadJSON, ""},
		{"fail/trailing-comma", `{"a":1,}`, protocol.CodePayloadJSON, ""},
		{"fail/single-quotes", `{'a':1}`, protocol.CodePayloadJSON, ""},
		{"fail/leading-zero", `{"a":01}`, protocol.CodePayloadJSON, ""},
		{"fail/raw-control-char", "{\"a\":\"x\ty\"}", protocol.CodePayloadJSON, "/a"},
		{"fail/bad-escape", `{"a":"\x"}`, protocol.CodePayloadJSON, "/a"},
		{"fail/duplicate-top", `{"a":1,"a":2}`, protocol.CodePayloadDup, "/a"},
		{"fail/duplicate-nested", `{"p":{"c":[{"n":1,"m":2,"n":3}]}}`, protocol.CodePayloadDup, "/p/c/0/n"},
		{"ok/large-object", largeOK, "", ""},
		{"fail/duplicate-in-large-object", largeDup, protocol.CodePayloadDup, "/k1999"},
		{"fail/duplicate-after-unescape", `{"ab":1,"a\u0062":2}`, protocol.CodePayloadDup, "/ab"},
		{"fail/invalid-utf8", "{\"a\":\"\xff\"}", protocol.CodePayloadUTF8, ""},
		{"fail/overlong-utf8", "{\"a\":\"\xc0\xaf\"}", protocol.CodePayloadUTF8, ""},
		{"fail/lone-high-surrogate", `{"a":"\ud800"}`, protocol.CodePayloadUTF8, "/a"},
		{"fail/lone-low-surrogate", `{"a":"\udc00x"}`, protocol.CodePayloadUTF8, "/a"},
		{"fail/noncharacter-escaped", `{"a":"\uffff"}`, protocol.CodePayloadUTF8, "/a"},
		{"fail/noncharacter-raw", "{\"a\":\"\uFDD0\"}", protocol.CodePayloadUTF8, "/a"},
		{"fail/too-deep", tooDeep, protocol.CodePayloadTooDeep, "/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a"},
		{"fail/integer-2-53", `{"n":9007199254740992}`, protocol.CodePayloadNumber, "/n"},
		{"fail/number-overflow", `{"n":1e400}`, protocol.CodePayloadNumber, "/n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := protocol.CheckJSON([]byte(tc.in), protocol.MaxJSONDepth)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, protocol.ErrRejected)
			assert.Equal(t, tc.code, protocol.CodeOf(err), "%v", err)
			var pe *protocol.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.pointer, pe.Pointer)
		})
	}
}

// FuzzCheckJSON asserts that CheckJSON never panics, that every refusal
// carries a code, and that it never accepts what encoding/json refuses.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"c"}]}`, `{"a":1,"a":2}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"n":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := protocol.CheckJSON(data, 8)
		if err != nil {
			if protocol.CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("accepted invalid UTF-8")
		}
		var v map[string]any
		if jerr := json.Unmarshal(data, &v); jerr != nil {
			t.Fatalf("CheckJSON accepted what encoding/json refuses: %v", jerr)
		}
		if hasDuplicateNames(data) {
			t.Fatalf("CheckJSON accepted a duplicate member name")
		}
	})
}

// hasDuplicateNames is an independent duplicate check on valid JSON,
// through encoding/json's tokenizer: a stack with one name set per open
// object (nil for arrays).
func hasDuplicateNames(data []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var stack []map[string]bool
	expectName := func() bool { return len(stack) > 0 && stack[len(stack)-1] != nil }
	var nameNext []bool // per level: the next string token in an object is a name
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				if len(nameNext) > 0 {
					nameNext[len(nameNext)-1] = expectName()
				}
				stack = append(stack, map[string]bool{})
				nameNext = append(nameNext, true)
			case '[':
				if len(nameNext) > 0 {
					nameNext[len(nameNext)-1] = expectName()
				}
				stack = append(stack, nil)
				nameNext = append(nameNext, false)
			default:
				stack, nameNext = stack[:len(stack)-1], nameNext[:len(nameNext)-1]
				if len(nameNext) > 0 {
					nameNext[len(nameNext)-1] = expectName()
				}
			}
		case string:
			if expectName() && nameNext[len(nameNext)-1] {
				if stack[len(stack)-1][tok] {
					return true
				}
				stack[len(stack)-1][tok] = true
				nameNext[len(nameNext)-1] = false
				continue
			}
			if len(nameNext) > 0 {
				nameNext[len(nameNext)-1] = expectName()
			}
		default:
			if len(nameNext) > 0 {
				nameNext[len(nameNext)-1] = expectName()
			}
		}
	}
}

func TestHasDuplicateNamesOracle(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`: false,
		`{"a":1,"a":2}`:                         true,
		`{"x":{"a":"a","a":1}}`:                 true,
		`{"x":["a","a"],"y":{"b":"a","a":"b"}}`: false,
	} {
		if got := hasDuplicateNames([]byte(in)); got != want {
			t.Errorf("hasDuplicateNames(%s) = %v, want %v", in, got, want)
		}
	}
}
