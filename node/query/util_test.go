package query

import (
	"encoding/base64"
	"net/http/httptest"
)

func b64dec(s string) ([]byte, error)         { return base64.RawURLEncoding.DecodeString(s) }
func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
