package console

import (
	"bytes"
	"errors"
	"mime/multipart"
	"testing"
)

// FuzzReadForm: the bounded form reader never panics, never returns more
// than its limits allow, and refuses rather than truncates (DESIGN §5).
func FuzzReadForm(f *testing.F) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.SetBoundary("XyZ")
	mw.WriteField("csrf", "tok")
	mw.WriteField("token", "a.b.c")
	fw, _ := mw.CreateFormFile("file", "qr.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\nrest"))
	mw.Close()
	f.Add("multipart/form-data; boundary=XyZ", buf.Bytes())
	f.Add("application/x-www-form-urlencoded", []byte("csrf=tok&token=a.b.c&other=1"))
	f.Add("application/x-www-form-urlencoded", []byte("token=%zz"))
	f.Add("multipart/form-data", []byte("--x\r\n"))
	f.Add("text/plain", []byte("hello"))
	spec := formSpec{fields: map[string]int{"csrf": 64, "token": 32}, file: "file", fileMax: 64, totalMax: 1024}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		form, err := parseForm(ct, bytes.NewReader(body), spec)
		if err != nil {
			if form != nil {
				t.Fatal("a form with an error")
			}
			if len(body) > int(spec.totalMax) && !errors.Is(err, errTooLarge) && !errors.Is(err, errFormType) && !errors.Is(err, errBadForm) {
				t.Fatalf("oversized body: %v", err)
			}
			return
		}
		if len(body) > int(spec.totalMax) {
			t.Fatalf("accepted %d bytes over a limit of %d", len(body), spec.totalMax)
		}
		for k, v := range form.fields {
			max, ok := spec.fields[k]
			if !ok || len(v) > max {
				t.Fatalf("field %q (%d bytes) outside the spec", k, len(v))
			}
		}
		if len(form.file) > spec.fileMax {
			t.Fatalf("file of %d bytes", len(form.file))
		}
	})
}

// FuzzCheckApproval never panics on any upload.
func FuzzCheckApproval(f *testing.F) {
	f.Add([]byte(approvalJWS("proposal.approve")))
	f.Add([]byte("a.b.c\nd.e.f"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) { checkApproval(data) })
}
