package server

import (
	"bytes"
	"encoding/json"
)

// jsonRawOrString embeds stored JSON as is (it was verified I-JSON when it
// arrived), or null.
type jsonRawOrString []byte

// MarshalJSON writes the raw JSON.
func (j jsonRawOrString) MarshalJSON() ([]byte, error) {
	if len(j) == 0 || !json.Valid(j) {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps the raw JSON.
func (j *jsonRawOrString) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
