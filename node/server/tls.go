package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/ecrn/crvsx/protocol"
)

// Peer is the registered node behind a mutual-TLS connection.
type Peer struct {
	NodeID string
	Member string
}

// PeerLookup finds the node registered with a TLS key's SPKI pin (lower-case
// hex SHA-256 of the DER SubjectPublicKeyInfo), answering from the
// registry's current trust view without blocking. ok is false for a key no
// active member registered.
type PeerLookup func(spkiPin string) (Peer, bool)

// SPKIPin is the pin of a certificate's key, as the registry records it.
func SPKIPin(cert *x509.Certificate) string { return protocol.SPKIPin(cert.RawSubjectPublicKeyInfo) }

// ErrUnknownPeer: the peer's TLS key is not the pinned key of any node of
// an active member.
var ErrUnknownPeer = errors.New("TLS client key is not registered for any active node")

// PeerTLSConfig is the TLS configuration of the peer API: TLS 1.3, a client
// certificate required, and no certificate authority — the client's key must
// be the one pinned for a node in the registry (SPEC §8.1). The check runs
// on every handshake against the current trust view, so a removed or
// changed key is refused on the next connection.
func PeerTLSConfig(cert tls.Certificate, lookup PeerLookup) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrUnknownPeer
			}
			if _, ok := lookup(SPKIPin(cs.PeerCertificates[0])); !ok {
				return fmt.Errorf("%w (pin %s)", ErrUnknownPeer, SPKIPin(cs.PeerCertificates[0]))
			}
			return nil
		},
	}
}

type peerKey struct{}

// WithPeer resolves the mTLS peer of every request on the peer API and puts
// it in the request context (PeerFrom). A request whose peer no longer
// resolves — the key was removed since the handshake — is refused.
func WithPeer(lookup PeerLookup, h http.Handler, refuse func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			refuse(w, r, ErrUnknownPeer)
			return
		}
		p, ok := lookup(SPKIPin(r.TLS.PeerCertificates[0]))
		if !ok {
			refuse(w, r, ErrUnknownPeer)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), peerKey{}, p)))
	})
}

// PeerFrom returns the peer WithPeer resolved.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}
