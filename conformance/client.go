package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// maxAnswer bounds what the suite reads of an answer.
const maxAnswer = 1 << 20

// answer is what the candidate answered to one request.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error // the request got no HTTP answer
	took   time.Duration
}

// wire sends requests to the candidate's peer API as one of the suite's
// members: TLS 1.3 with the member's key as the client certificate, and
// the candidate's key checked against its registered pin — the suite
// trusts nothing it did not pin.
type wire struct {
	base string
	pin  string
	hc   map[string]*http.Client // by member id ("" for no client key)
}

func newWire(base, pin string, ids map[string]*Identity) *wire {
	w := &wire{base: strings.TrimSuffix(base, "/"), pin: strings.ToLower(pin), hc: map[string]*http.Client{}}
	for m, id := range ids {
		w.hc[m] = w.client(&id.TLS)
	}
	w.hc[""] = w.client(nil)
	return w
}

func (w *wire) client(cert *tls.Certificate) *http.Client {
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // no CA in the network: the pin is checked below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the candidate presented no certificate")
			}
			if got := protocol.SPKIPin(cs.PeerCertificates[0].RawSubjectPublicKeyInfo); got != w.pin {
				return fmt.Errorf("the candidate's TLS key %s is not its registered key %s", got, w.pin)
			}
			return nil
		},
		NextProtos: []string{"http/1.1"},
	}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: conf, TLSHandshakeTimeout: 10 * time.Second, DisableCompression: true,
			MaxIdleConnsPerHost: 16, DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext},
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer to judge, not to follow
		},
	}
}

// request is one HTTP request of a module.
type request struct {
	as          string // the member whose TLS key is presented ("" for none)
	method      string // default POST
	path        string // default /v1/messages
	contentType string // default application/jose; "-" for none
	body        []byte
}

func (w *wire) do(ctx context.Context, r request) answer {
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/v1/messages"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, w.base+r.path, bytes.NewReader(r.body))
	if err != nil {
		return answer{err: err}
	}
	switch r.contentType {
	case "":
		req.Header.Set("Content-Type", protocol.MediaTypeJOSE)
	case "-":
	default:
		req.Header.Set("Content-Type", r.contentType)
	}
	hc := w.hc[r.as]
	if hc == nil {
		return answer{err: fmt.Errorf("no client for member %q", r.as)}
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	a := answer{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}
	if err != nil {
		a.err = err
	}
	return a
}

// ErrTarget is the family of errors of a target the suite cannot test at
// all (down, not a crvsx node, another key): `crvsx conform run` exits 2.
var ErrTarget = errors.New("conformance: the target cannot be tested")

// probe checks that the target is a crvsx node with the registered key:
// its registry status answers over pinned TLS.
func (w *wire) probe(ctx context.Context) error {
	a := w.do(ctx, request{as: "", method: http.MethodGet, path: "/v1/registry/status", contentType: "-"})
	if a.err != nil {
		return fmt.Errorf("%w: %s: %w", ErrTarget, w.base, a.err)
	}
	if a.status != http.StatusOK || a.header.Get("Crvs-Registry-Index") == "" {
		return fmt.Errorf("%w: %s answered %d to GET /v1/registry/status without the registry's headers: not a crvsx node", ErrTarget, w.base, a.status)
	}
	return nil
}

// Probe checks, before a run starts anything, that the candidate at
// peerURL ("" for the suite's record of it) is a crvsx node answering with
// its registered TLS key. Its error is in the ErrTarget family.
func Probe(ctx context.Context, s *Suite, peerURL string) error {
	if peerURL == "" {
		peerURL = s.Candidate.PeerURL
	}
	return newWire(peerURL, s.Candidate.TLSPin, nil).probe(ctx)
}
