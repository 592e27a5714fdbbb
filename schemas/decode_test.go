package schemas

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ecrn/crvsx/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"
)

// referenceDecode is what decodeNFC must equal: encoding/json with
// UseNumber, then NFC on every name and string. ok is false when the
// reference itself refuses the input or normalisation merges two names.
func referenceDecode(msg []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	v, ok := nfcTree(m)
	if !ok {
		return nil, false
	}
	return v.(map[string]any), true
}

func nfcTree(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		return norm.NFC.String(t), true
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			y, ok := nfcTree(x)
			if !ok {
				return nil, false
			}
			out[i] = y
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			y, ok := nfcTree(x)
			nk := norm.NFC.String(k)
			if _, dup := out[nk]; dup || !ok {
				return nil, false
			}
			out[nk] = y
		}
		return out, true
	}
	return v, true
}

// sameDecoding checks decodeNFC against the reference on input that
// protocol.CheckJSON accepts.
func sameDecoding(t testing.TB, names map[string]string, msg []byte) {
	t.Helper()
	if protocol.CheckJSON(msg, protocol.MaxJSONDepth) != nil {
		return
	}
	got, err := decodeNFC(msg, names)
	want, ok := referenceDecode(msg)
	if !ok {
		if err == nil {
			t.Fatalf("decodeNFC accepted what the reference refuses: %q", msg)
		}
		assert.Equal(t, protocol.CodePayloadDup, protocol.CodeOf(err), "%q", msg)
		return
	}
	require.NoError(t, err, "%q", msg)
	if !assert.Equal(t, want, got, "%q", msg) {
		t.FailNow()
	}
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	names := Default().names
	for _, s := range []string{
		`{}`,
		` { "a" : [ ] , "b" : { } } `,
		`{"s":"\"\\\/\b\f\n\r\t\u0041\u00e9\u0065\u0301\ud83d\ude00 ж \u2028"}`,
		`{"n":[0,-0,1,-1,1.5,-1.5e10,1E+2,1e-2,9007199254740992,0.1]}`,
		`{"t":true,"f":false,"z":null,"nested":[[[{"x":[1,{"y":"z"}]}]]]}`,
		`{"Cafe\u0301":1,"payload":"e\u0301"}`,
		`{"Café":1,"Cafe` + "\u0301" + `":2}`,
		`{"country":"TJ","country2":"TJ"}`,
		`{"\u0000":"\u0000"}`,
		`{"sex":1.0,"a\/b":"~"}`,
		`{"Ǆ":"ǆ","\u1100\u1161":"\u1100\u1161\u11a8"}`,
	} {
		sameDecoding(t, names, []byte(s))
	}
	for name, msg := range allFixtures(t) {
		t.Run(name, func(t *testing.T) { sameDecoding(t, names, msg) })
	}
}

func TestDecodeInternsNames(t *testing.T) {
	names := Default().names
	for _, k := range []string{"schemaVersion", "payload", "fullName", "issuingFormerCountry", "birthOrderInDelivery", "min"} {
		assert.Contains(t, names, k)
	}
	assert.NotContains(t, names, "nickname")
}

func TestDecodeRefusesWhatCheckJSONShouldHave(t *testing.T) {
	for _, s := range []string{``, `[]`, `{"a":}`, `{"a":1,}`, `{"a":tru}`, `{"a":"x}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":1} x`, "{\"a\":\"\x01\"}"} {
		_, err := decodeNFC([]byte(s), nil)
		assert.Equal(t, protocol.CodePayloadJSON, protocol.CodeOf(err), "%q", s)
	}
}
