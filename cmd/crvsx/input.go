package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/ecrn/crvsx/protocol"
)

// maxInputBytes bounds what a command reads from one file or stdin: the
// protocol's message limit with room for a pretty-printed JSON document.
const maxInputBytes = 4 * protocol.MaxMessageBytes

// readInput reads FILE, or stdin for "-", refusing more than limit bytes
// rather than reading an unbounded stream.
func (e *env) readInput(name string, limit int64) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, &protocol.Error{Code: protocol.CodeTooLarge, Detail: fmt.Sprintf("%s is larger than %d bytes", name, limit)}
	}
	return b, nil
}

// readMessage reads the JSON of a message to submit (FILE, or stdin for
// "-"). Empty input is a usage error and input that is not JSON is not
// valid: both are said here, before anything is sent.
func (e *env) readMessage(name string) ([]byte, error) {
	b, err := e.readInput(name, maxInputBytes)
	if err != nil {
		return nil, err
	}
	src := name
	if name == "-" {
		src = "stdin"
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%s is empty: want the JSON of a message (crvsx devnet writes one for each node, e.g. DIR/TR/birth.json)", src)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, refused(fmt.Errorf("%s is not a JSON document: %w", src, err))
	}
	return b, nil
}
