package console

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
)

// DESIGN §5: limits of each form, checked before parsing.
const (
	formOverhead   = 64 << 10
	smallFormLimit = 8 << 10
	maxParts       = 8
)

var (
	errTooLarge = errors.New("console: request too large")
	errBadForm  = errors.New("console: malformed form")
	errFormType = errors.New("console: unsupported form encoding")
)

// formSpec names the fields a form may have: text fields with their
// limits, and at most one file field.
type formSpec struct {
	fields   map[string]int
	file     string
	fileMax  int
	totalMax int64
}

// form is a parsed form: known text fields and the file's bytes.
type form struct {
	fields map[string]string
	file   []byte
}

func (f *form) get(name string) string { return f.fields[name] }

// readForm reads r's form within spec's limits (DESIGN §5): a
// Content-Length over the limit is refused before reading.
func readForm(w http.ResponseWriter, r *http.Request, spec formSpec) (*form, error) {
	if r.ContentLength > spec.totalMax {
		return nil, errTooLarge
	}
	body := http.MaxBytesReader(w, r.Body, spec.totalMax)
	f, err := parseForm(r.Header.Get("Content-Type"), body, spec)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errTooLarge
	}
	return f, err
}

// parseForm parses a urlencoded or multipart body of at most
// spec.totalMax bytes into the fields spec names; others are skipped.
// It never writes a temporary file and never panics.
func parseForm(contentType string, body io.Reader, spec formSpec) (*form, error) {
	lr := &limitReader{r: body, left: spec.totalMax}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errFormType
	}
	f := &form{fields: map[string]string{}}
	switch mt {
	case "application/x-www-form-urlencoded":
		b, err := io.ReadAll(lr)
		if err != nil {
			return nil, err
		}
		q, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, errBadForm
		}
		for name, max := range spec.fields {
			if v := q.Get(name); v != "" {
				if len(v) > max {
					return nil, errTooLarge
				}
				f.fields[name] = v
			}
		}
		return f, nil
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" || len(boundary) > 70 {
			return nil, errBadForm
		}
		mr := multipart.NewReader(lr, boundary)
		for i := 0; ; i++ {
			p, err := mr.NextPart()
			if err == io.EOF {
				return f, nil
			}
			if err != nil {
				if lr.over {
					return nil, errTooLarge
				}
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, err
				}
				return nil, errBadForm
			}
			if i >= maxParts {
				return nil, errBadForm
			}
			name := p.FormName()
			max, known := spec.fields[name]
			isFile := spec.file != "" && name == spec.file
			if isFile {
				max, known = spec.fileMax, true
			}
			if !known {
				if _, err := io.Copy(io.Discard, p); err != nil {
					return nil, partErr(err, lr)
				}
				continue
			}
			b, err := io.ReadAll(io.LimitReader(p, int64(max)+1))
			if err != nil {
				return nil, partErr(err, lr)
			}
			if len(b) > max {
				return nil, errTooLarge
			}
			if isFile {
				if len(b) > 0 {
					f.file = b
				}
			} else if len(b) > 0 {
				f.fields[name] = string(b)
			}
		}
	}
	return nil, errFormType
}

func partErr(err error, lr *limitReader) error {
	var mbe *http.MaxBytesError
	switch {
	case lr.over:
		return errTooLarge
	case errors.As(err, &mbe):
		return err
	}
	return errBadForm
}

// limitReader fails with errTooLarge once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		l.over = true
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return n, errTooLarge
	}
	return n, err
}
