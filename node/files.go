package node

import (
	"crypto/tls"
	"fmt"
	"os"

	"github.com/ecrn/crvsx/node/pintls"
	"github.com/ecrn/crvsx/node/server"
	"github.com/ecrn/crvsx/protocol/jws"
	"github.com/ecrn/crvsx/protocol/trust"
)

// The files a configuration names: keys, tokens and the genesis. Secrets
// must not be readable by others.

// loadSigningKey reads the member's signing key (keys.signingKey).
func loadSigningKey(cfg Config) (*jws.Signer, error) {
	kb, err := readSecret(cfg.Keys.SigningKey)
	if err != nil {
		return nil, err
	}
	sk, err := jws.ParsePrivateJWK(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Keys.SigningKey, err)
	}
	if sk.Member() != cfg.Member {
		return nil, fmt.Errorf("%w: keys.signingKey belongs to member %s, not %s", ErrConfig, sk.Member(), cfg.Member)
	}
	return sk, nil
}

// loadTLSKey reads the node's TLS key and certificate (keys.tlsKey,
// keys.tlsCert).
func loadTLSKey(cfg Config) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(cfg.Keys.TLSCert)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readSecret(cfg.Keys.TLSKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := pintls.Load(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("keys.tlsCert/tlsKey: %w", err)
	}
	return cert, nil
}

// loadGenesis reads the genesis and its endorsements and checks them
// against the configured pin (REGISTRY.md §3).
func loadGenesis(cfg Config) (*trust.Genesis, error) {
	doc, err := os.ReadFile(cfg.Registry.Genesis)
	if err != nil {
		return nil, err
	}
	endFile, err := os.ReadFile(cfg.Registry.Endorsements)
	if err != nil {
		return nil, err
	}
	ends, err := trust.ParseEndorsementsFile(endFile, doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Registry.Endorsements, err)
	}
	genesis, err := trust.ParseGenesis(doc, ends)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Registry.Genesis, err)
	}
	if err := genesis.CheckPin(cfg.Registry.GenesisSHA256); err != nil {
		return nil, err
	}
	return genesis, nil
}

// readSecret reads a secret file (a key or a tokens file), refusing one
// that others can read.
func readSecret(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %o); chmod 600 it", ErrConfig, path, st.Mode().Perm())
	}
	if st.Size() > 1<<20 {
		return nil, fmt.Errorf("%w: %s is larger than 1 MiB", ErrConfig, path)
	}
	return os.ReadFile(path)
}

// loadTokens reads a tokens file (server.ParseTokens has its grammar).
func loadTokens(path string) (*server.Tokens, error) {
	b, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	t, err := server.LoadTokens(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
