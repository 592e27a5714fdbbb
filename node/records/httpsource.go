package records

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ecrn/crvsx/node/records/match"
	"github.com/ecrn/crvsx/protocol"
)

// HTTP adapter limits and defaults (DESIGN.md R7, README "HTTP adapter").
const (
	DefaultHTTPTimeout   = 5 * time.Second
	MaxResponseBytes     = 4 << 20
	MaxAnswerCandidates  = 100
	candidatesMediaType  = "application/json"
	adapterUnavailableIs = "the national records system did not answer usably"
)

// HTTPSource is the records backend of a national system reached over
// HTTP (R7): the node POSTs the subject and reads back candidate records.
// Any failure — transport, time, status, size, shape — is an UNAVAILABLE
// *protocol.Error: never a guess. Safe for concurrent use.
type HTTPSource struct {
	URL     string
	Token   string        // bearer token (read from records.tokenFile)
	Timeout time.Duration // per request; 0 means DefaultHTTPTimeout
	Client  *http.Client  // nil: a plain client; redirects are never followed
}

var _ Source = (*HTTPSource)(nil)

// answer is the adapter's response body.
type answer struct {
	Candidates []json.RawMessage `json:"candidates"`
}

func unavailable(format string, args ...any) error {
	e := protocol.Errorf(protocol.CodeUnavailable, adapterUnavailableIs+": "+format, args...)
	return e
}

// Candidates asks the national system (R7).
func (h *HTTPSource) Candidates(ctx context.Context, s match.Subject) ([]Candidate, error) {
	body, err := json.Marshal(subjectWire(s))
	if err != nil {
		return nil, fmt.Errorf("records: encode subject: %w", err)
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, unavailable("%w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", candidatesMediaType)
	req.Header.Set("Authorization", "Bearer "+h.Token)
	c := http.Client{}
	if h.Client != nil {
		c = *h.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return nil, unavailable("%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, unavailable("status %d", resp.StatusCode)
	}
	// > the response is at most 4 MiB, refused unread past it
	if resp.ContentLength > MaxResponseBytes {
		return nil, unavailable("a response of %d bytes is over %d", resp.ContentLength, MaxResponseBytes)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, unavailable("reading the response: %w", err)
	}
	if len(raw) > MaxResponseBytes {
		return nil, unavailable("the response is over %d bytes", MaxResponseBytes)
	}
	if err := protocol.CheckJSON(raw, protocol.MaxJSONDepth); err != nil {
		return nil, unavailable("the response is not one I-JSON object: %v", err)
	}
	var a answer
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil || a.Candidates == nil {
		return nil, unavailable("the response is not {\"candidates\": [...]}")
	}
	if len(a.Candidates) > MaxAnswerCandidates {
		return nil, ErrTooManyCandidates
	}
	out := make([]Candidate, 0, len(a.Candidates))
	seen := map[string]bool{}
	for i, c := range a.Candidates {
		r, le := ParseRecord(c)
		if le != nil {
			return nil, unavailable("candidate %d: %s %s: %s", i, le.Code, le.Pointer, le.Message)
		}
		if seen[r.RecordID] {
			return nil, unavailable("candidate %d repeats recordId", i)
		}
		seen[r.RecordID] = true
		out = append(out, Candidate{Person: r.Person(), Facts: r.Facts()})
	}
	return out, nil
}

// The subject as status.query writes it (R7 request).
type wireName struct {
	FullName   string `json:"fullName"`
	GivenNames string `json:"givenNames,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	Patronymic string `json:"patronymic,omitempty"`
	Script     string `json:"script,omitempty"`
	Language   string `json:"language,omitempty"`
}

type wireSubject struct {
	Names      []wireName `json:"names,omitempty"`
	BirthDate  string     `json:"birthDate,omitempty"`
	Sex        *int       `json:"sex,omitempty"`
	BirthPlace *struct {
		Country string `json:"country"`
	} `json:"birthPlace,omitempty"`
	Identifiers []Identifier `json:"identifiers,omitempty"`
	MotherNames []wireName   `json:"motherNames,omitempty"`
	FatherNames []wireName   `json:"fatherNames,omitempty"`
}

func wireNames(ns []match.Name) []wireName {
	var out []wireName
	for _, n := range ns {
		out = append(out, wireName{FullName: n.Full, GivenNames: n.Given, FamilyName: n.Family, Patronymic: n.Patronymic, Script: n.Script, Language: n.Language})
	}
	return out
}

func subjectWire(s match.Subject) wireSubject {
	w := wireSubject{Names: wireNames(s.Names), MotherNames: wireNames(s.MotherNames), FatherNames: wireNames(s.FatherNames)}
	if d := s.BirthDate; d.Known() {
		w.BirthDate = fmt.Sprintf("%04d", d.Year)
		if d.Month != 0 {
			w.BirthDate += "-" + pad2(d.Month)
			if d.Day != 0 {
				w.BirthDate += "-" + pad2(d.Day)
			}
		}
	}
	if s.Sex != match.SexUnknown {
		sex := s.Sex
		w.Sex = &sex
	}
	if s.BirthCountry != "" {
		w.BirthPlace = &struct {
			Country string `json:"country"`
		}{s.BirthCountry}
	}
	for _, id := range s.Identifiers {
		w.Identifiers = append(w.Identifiers, Identifier{Scheme: id.Scheme, Value: id.Value, IssuingCountry: id.Country})
	}
	return w
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
