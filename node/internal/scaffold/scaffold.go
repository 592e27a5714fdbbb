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
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
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

// FreePorts reserves n ports on host and releases them all at once: a
// node binds them a moment later. (Reserving one at a time and releasing
// in between lets the kernel hand a port out twice.)
//
// The ports come from below the kernel's ephemeral range when it leaves
// room (Linux: ip_local_port_range, default 32768–60999): a port of that
// range, released, can be taken in the meantime as the local port of any
// outgoing connection on the machine — a test package running beside this
// one — and the node then fails to bind it. Below the range only another
// FreePorts, starting at a random place, can take it. Elsewhere, port 0.
func FreePorts(host string, n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []string
	lo, hi := belowEphemeral()
	next := lo
	if hi > lo {
		next = lo + randIntn(hi-lo)
	}
	for range n {
		var l net.Listener
		for tries := 0; hi > lo && tries < hi-lo && l == nil; tries++ {
			if next >= hi {
				next = lo
			}
			l, _ = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(next)))
			next++
		}
		if l == nil {
			var err error
			if l, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
				return nil, fmt.Errorf("a free port on %s: %w", host, err)
			}
		}
		lns = append(lns, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// belowEphemeral is [lo, hi): ports below the kernel's ephemeral range,
// above the well-known ones; empty when the range leaves no room or is not
// known.
func belowEphemeral() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	start, err := strconv.Atoi(f[0])
	if err != nil || start < 12000 {
		return 0, 0
	}
	return 10000, start
}

// randIntn is a uniform random int in [0, n), n > 0.
func randIntn(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

// RandHex returns n random bytes in hex: a token's secret part.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
