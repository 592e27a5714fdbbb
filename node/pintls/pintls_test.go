package pintls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ecrn/crvsx/protocol"
)

func mustKey(t *testing.T, id, alg string) tls.Certificate {
	t.Helper()
	c, err := Generate(id, alg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustPin(t *testing.T, c tls.Certificate) string {
	t.Helper()
	p, err := Pin(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeys: a node key survives PEM, a re-issued certificate keeps the pin
// (the registry pins the key, not the certificate), and only ECDSA P-256
// and Ed25519 keys are node keys.
func TestKeys(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run("ok/"+alg, func(t *testing.T) {
			c := mustKey(t, "TJ-MOJ-CRVS", alg)
			pin := mustPin(t, c)
			if !protocol.IsSHA256Hex(pin) {
				t.Fatalf("pin %q", pin)
			}
			certPEM, keyPEM, err := Encode(c)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Load(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if p := mustPin(t, back); p != pin {
				t.Fatalf("pin changed through PEM: %s vs %s", p, pin)
			}
			again, err := SelfSigned("TJ-MOJ-CRVS", back.PrivateKey.(crypto.Signer))
			if err != nil {
				t.Fatal(err)
			}
			if p := mustPin(t, again); p != pin {
				t.Fatal("a re-issued certificate changed the pin")
			}
		})
	}
	t.Run("fail/p384-key", func(t *testing.T) {
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if _, err := SelfSigned("TJ-X", k); !errors.Is(err, ErrKeyType) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/unknown-alg", func(t *testing.T) {
		if _, err := Generate("TJ-X", "RS256"); err == nil {
			t.Fatal("RS256 accepted")
		}
	})
}

// handshake runs one TLS handshake over loopback TCP and returns the
// errors of the client and the server.
func handshake(t *testing.T, client, server *tls.Config) (cerr, serr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer raw.Close()
		_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
		s := tls.Server(raw, server)
		err = s.Handshake()
		if err == nil {
			// Read what the client sends, so that a refusal of the
			// client's key (checked after its Finished) reaches it.
			_, err = io.ReadFull(s, make([]byte, 1))
		}
		done <- err
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, client)
	cerr = c.Handshake()
	if cerr == nil {
		_, cerr = c.Write([]byte{1})
	}
	if cerr != nil {
		raw.Close()
	}
	return cerr, <-done
}

// TestConfigs is the pin rule of every connection between nodes (node/
// registry DESIGN.md §13, SPEC §8.1): the server's key must be the pinned
// one, mutual TLS requires the client's key and checks it, TLS 1.3 only,
// no session tickets.
func TestConfigs(t *testing.T) {
	srv, cli, other := mustKey(t, "TJ-SRV", "ES256"), mustKey(t, "TR-CLI", "EdDSA"), mustKey(t, "KZ-X", "ES256")
	srvPin, cliPin := mustPin(t, srv), mustPin(t, cli)
	expectClient := func(want string) func(tls.ConnectionState) error {
		return func(cs tls.ConnectionState) error {
			pin, err := CheckPeerKey(cs)
			if err != nil {
				return err
			}
			return ExpectPin(want)(pin)
		}
	}
	t.Run("ok/client-pins-server", func(t *testing.T) {
		if c, s := handshake(t, ClientConfig(nil, ExpectPin(srvPin)), ServerConfig(srv)); c != nil || s != nil {
			t.Fatalf("client %v, server %v", c, s)
		}
	})
	t.Run("ok/pin-case-insensitive", func(t *testing.T) {
		upper := []byte(srvPin)
		for i, ch := range upper {
			if ch >= 'a' && ch <= 'f' {
				upper[i] = ch - 32
			}
		}
		if c, _ := handshake(t, ClientConfig(nil, ExpectPin(string(upper))), ServerConfig(srv)); c != nil {
			t.Fatal(c)
		}
	})
	t.Run("fail/server-key-not-pinned", func(t *testing.T) {
		c, _ := handshake(t, ClientConfig(nil, ExpectPin(mustPin(t, other))), ServerConfig(srv))
		if !errors.Is(c, ErrPinMismatch) {
			t.Fatalf("got %v", c)
		}
	})
	t.Run("ok/mutual", func(t *testing.T) {
		c, s := handshake(t, MutualConfig(cli, ALPNHTTP1, expectClient(srvPin)), MutualConfig(srv, ALPNHTTP1, expectClient(cliPin)))
		if c != nil || s != nil {
			t.Fatalf("client %v, server %v", c, s)
		}
	})
	t.Run("fail/mutual-client-key-not-pinned", func(t *testing.T) {
		_, s := handshake(t, MutualConfig(other, ALPNHTTP1, expectClient(srvPin)), MutualConfig(srv, ALPNHTTP1, expectClient(cliPin)))
		if !errors.Is(s, ErrPinMismatch) {
			t.Fatalf("server accepted an unpinned client: %v", s)
		}
	})
	t.Run("fail/mutual-without-client-key", func(t *testing.T) {
		_, s := handshake(t, ClientConfig(nil, ExpectPin(srvPin)), MutualConfig(srv, ALPNHTTP1, expectClient(cliPin)))
		if s == nil {
			t.Fatal("server accepted a client without a key")
		}
	})
	t.Run("profile/tls13-no-tickets", func(t *testing.T) {
		for _, c := range []*tls.Config{ServerConfig(srv), MutualConfig(srv, "x", nil), ClientConfig(nil, ExpectPin(srvPin))} {
			if c.MinVersion != tls.VersionTLS13 {
				t.Fatal("not TLS 1.3 only")
			}
		}
		if !ServerConfig(srv).SessionTicketsDisabled || !MutualConfig(srv, "x", nil).SessionTicketsDisabled {
			t.Fatal("session tickets on")
		}
	})
}
