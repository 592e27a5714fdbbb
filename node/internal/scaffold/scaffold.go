// Package scaffold holds what the generators of test networks share
// (node/devnet, node/conformnet): durable file writes, free loopback ports
// and random tokens.
//
// Imports: only the standard library.
package scaffold

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
)

// WriteFile writes a new file durably (fsync before close) with mode,
// whatever the umask.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// FreePorts reserves n ports on host by listening on port 0 and releases
// them all at once: a node binds them a moment later. (Reserving one at a
// time and releasing in between lets the kernel hand a port out twice.)
func FreePorts(host string, n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("a free port on %s: %w", host, err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// RandHex returns n random bytes in hex: a token's secret part.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
