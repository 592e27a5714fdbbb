package pintls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

// ALPNHTTP1 is the application protocol of the node's HTTP APIs.
const ALPNHTTP1 = "http/1.1"

// ErrPinMismatch: the peer presented no key, or a key that is not the
// pinned one. The connection is closed before anything is sent.
var ErrPinMismatch = errors.New("TLS key is not the pinned key")

// ErrKeyType: a TLS key of a type nodes may not use.
var ErrKeyType = errors.New("only ECDSA P-256 and Ed25519 node TLS keys are allowed")

// RefusedError is a TLS peer refused by a pin check: who it was and why.
// Err is the reason (a *trust.RejectedError with a peer reason for the
// registry's checks, or ErrPinMismatch); errors.Is(err, ErrPinMismatch)
// holds for every RefusedError.
type RefusedError struct {
	Addr string // remote address or node id ("" if unknown)
	Pin  string // pin of the key the peer presented ("" if none)
	Err  error
}

func (e *RefusedError) Error() string {
	who := e.Addr
	if who == "" {
		who = "peer"
	}
	return fmt.Sprintf("TLS peer %s (key %s) refused: %v", who, ShortPin(e.Pin), e.Err)
}

// Unwrap returns ErrPinMismatch and the cause.
func (e *RefusedError) Unwrap() []error { return []error{ErrPinMismatch, e.Err} }

// ShortPin is a pin shortened for messages ("none" for "").
func ShortPin(p string) string {
	if len(p) > 16 {
		return p[:16] + "…"
	}
	if p == "" {
		return "none"
	}
	return p
}

// PeerPin returns the pin of the key the peer of cs presented, or "" if it
// presented none. Only the leaf's key counts: its certificate, validity
// and issuer are irrelevant.
func PeerPin(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return protocol.SPKIPin(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
}

// CheckPeerKey refuses a connection whose peer presented no key or a key
// of a type nodes may not use, and returns the pin of the key.
func CheckPeerKey(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", fmt.Errorf("%w: the peer presented no certificate", ErrPinMismatch)
	}
	leaf := cs.PeerCertificates[0]
	if err := CheckKeyType(leaf.PublicKey); err != nil {
		return "", err
	}
	return protocol.SPKIPin(leaf.RawSubjectPublicKeyInfo), nil
}

// CheckKeyType accepts the public keys nodes may use: ECDSA P-256 and
// Ed25519.
func CheckKeyType(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("%w (got %T)", ErrKeyType, pub)
}

// ExpectPin returns a check that the server's key is the one with pin
// (64 hex digits, either case).
func ExpectPin(pin string) func(got string) error {
	pin = strings.ToLower(pin)
	return func(got string) error {
		if got != pin {
			return fmt.Errorf("%w: the key %s is not the pinned %s", ErrPinMismatch, ShortPin(got), ShortPin(pin))
		}
		return nil
	}
}

// ServerConfig is the TLS configuration of a node's peer listener: TLS 1.3
// with the node's key, ALPN http/1.1. A client key is requested but not
// required (operators reading the registry API have none) and never
// checked by the handshake: each endpoint that needs a peer checks its pin
// itself (node/server.WithPeer, the registry's join and read index), so
// that a wrong key is answered with a problem document and its reason.
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.RequestClientCert,
		SessionTicketsDisabled: true,
		NextProtos:             []string{ALPNHTTP1},
	}
}

// MutualConfig is the TLS configuration of both ends of a pinned mutual-TLS
// connection (the Raft transport; a node dialling another node's API):
// TLS 1.3, this node's key, the peer's key required, no CA — verify, run
// in VerifyConnection on both sides of every handshake, is the whole check
// (CheckPeerKey first) — no session resumption, and one ALPN protocol.
func MutualConfig(cert tls.Certificate, alpn string, verify func(tls.ConnectionState) error) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.RequireAnyClientCert,
		InsecureSkipVerify:     true, // no CA: VerifyConnection checks the pin
		SessionTicketsDisabled: true,
		NextProtos:             []string{alpn},
		VerifyConnection:       verify,
	}
}

// ClientConfig is the TLS configuration of a client that authenticates the
// server it calls by the pin of its key: TLS 1.3, no CA, check called with
// the server's pin on every handshake (ExpectPin for a fixed pin). cert,
// if not nil, is presented as the client's key (mutual TLS to a peer API).
func ClientConfig(cert *tls.Certificate, check func(pin string) error) *tls.Config {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // no CA: VerifyConnection checks the pin
		NextProtos:         []string{ALPNHTTP1},
		VerifyConnection: func(cs tls.ConnectionState) error {
			pin, err := CheckPeerKey(cs)
			if err != nil {
				return err
			}
			return check(pin)
		},
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// Generate generates a node's TLS key (alg "ES256" or "": ECDSA P-256;
// "EdDSA": Ed25519) with a self-signed certificate for it.
func Generate(nodeID, alg string) (tls.Certificate, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256", "":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return tls.Certificate{}, fmt.Errorf("TLS key algorithm %q: want ES256 or EdDSA", alg)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	return SelfSigned(nodeID, priv)
}

// SelfSigned wraps a node key (ECDSA P-256 or Ed25519) in a fresh
// self-signed certificate, e.g. to re-issue one: the pin does not change.
// The certificate only carries the key — peers check the pin — so it is
// valid for 100 years and names the node.
func SelfSigned(nodeID string, priv crypto.Signer) (tls.Certificate, error) {
	if err := CheckKeyType(priv.Public()); err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now().Add(-time.Hour).UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: nodeID},
		DNSNames:              []string{"crvsx-node"},
		NotBefore:             now,
		NotAfter:              now.AddDate(100, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// Pin returns the pin of a certificate's key.
func Pin(cert tls.Certificate) (string, error) {
	if len(cert.Certificate) == 0 {
		return "", errors.New("empty certificate")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return "", fmt.Errorf("certificate: %w", err)
	}
	return protocol.SPKIPin(leaf.RawSubjectPublicKeyInfo), nil
}

// Encode returns the certificate and the private key as PEM (CERTIFICATE;
// PRIVATE KEY in PKCS #8).
func Encode(cert tls.Certificate) (certPEM, keyPEM []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Load parses a PEM certificate and key pair written by Encode (or any
// pair of an allowed key type).
func Load(certPEM, keyPEM []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("node TLS key: %w", err)
	}
	if err := CheckKeyType(cert.Leaf.PublicKey); err != nil {
		return tls.Certificate{}, fmt.Errorf("node TLS key: %w", err)
	}
	return cert, nil
}
