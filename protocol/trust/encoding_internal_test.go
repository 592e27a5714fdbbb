package trust

import (
	"testing"
)

// TestCanonicalize is REGISTRY.md §1: RFC 8785 for the registry's values.
func TestCanonicalize(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"ok/sorted-members-no-whitespace", `{ "b": 1, "a": [true, false, null] }`, `{"a":[true,false,null],"b":1}`},
		{"ok/nested-sorted", `{"z":{"y":1,"x":2},"a":"s"}`, `{"a":"s","z":{"x":2,"y":1}}`},
		// RFC 8785 §3.2.3: UTF-16 code units: U+1F600 (the surrogate pair
		// 0xD83D 0xDE00) sorts before U+E000, the reverse of code point
		// and UTF-8 byte order.
		{"ok/utf16-order", `{"\ud83d\ude00":1,"\ue000":2,"a":3}`, "{\"a\":3,\"\U0001F600\":1,\"\ue000\":2}"},
		{"ok/escapes", `{"s":"\u0001\b\t\n\f\r\"\\/é\u2028"}`, "{\"s\":\"\\u0001\\b\\t\\n\\f\\r\\\"\\\\/é\u2028\"}"},
		{"ok/integers", `{"n":-0,"m":9007199254740991}`, `{"m":9007199254740991,"n":0}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := canonicalize([]byte(tc.in))
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{`{"n":1.5}`, `{"n":1e3}`, `{"n":9007199254740992}`, `{} {}`} {
		t.Run("fail/"+bad, func(t *testing.T) {
			if got, err := canonicalize([]byte(bad)); err == nil {
				t.Fatalf("accepted as %s", got)
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	if ts, err := ParseTimestamp("2026-11-27T02:00:00Z"); err != nil || ts.String() != "2026-11-27T02:00:00Z" {
		t.Fatalf("%v %v", ts, err)
	}
	for _, bad := range []string{"2026-11-27T02:00:00.5Z", "2026-11-27T02:00:00+00:00", "2026-11-27t02:00:00z", "2026-11-27 02:00:00Z", "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", ""} {
		t.Run("fail/"+bad, func(t *testing.T) {
			if _, err := ParseTimestamp(bad); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
