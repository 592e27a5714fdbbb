package node_test

import (
	"context"
	"crypto/tls"

	"github.com/ecrn/crvsx/node/store"
)

func insecureClientTLS() *tls.Config {
	// The test client checks nothing: the point is the server's refusal.
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
}

func storeOpenReadOnly(ctx context.Context, path string) (*store.Store, error) {
	return store.Open(ctx, path, store.Options{ReadOnly: true})
}
