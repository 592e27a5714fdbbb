package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func ioLimit(r io.Reader) io.Reader { return io.LimitReader(r, maxAnswer) }

// compactJSON re-encodes a JSON document without white space, so that raw
// edits can find members as "name":value.
func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		panic("conformance: " + err.Error())
	}
	return out.Bytes()
}
