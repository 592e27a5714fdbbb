package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/ecrn/crvsx/node/pintls"
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

// ErrUnknownPeer: the peer's TLS key is not the pinned key of any node of
// an active member.
var ErrUnknownPeer = errors.New("TLS client key is not registered for any active node")

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
		p, ok := lookup(pintls.PeerPin(*r.TLS))
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
