package scaffold

import (
	"net"
	"strconv"
	"testing"
)

// FreePorts hands out distinct ports that can be bound, and below the
// kernel's ephemeral range when it leaves room, where no outgoing
// connection of another process takes them in the meantime.
func TestFreePortsBelowTheEphemeralRange(t *testing.T) {
	ports, err := FreePorts("127.0.0.1", 20)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := belowEphemeral()
	seen := map[string]bool{}
	for _, addr := range ports {
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(p)
		if hi > lo && (n < lo || n >= hi) {
			t.Errorf("port %d is outside [%d, %d): an outgoing connection may take it", n, lo, hi)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s cannot be bound: %v", addr, err)
		}
		l.Close()
	}
}
