// Package failpoint lets the crash tests kill a node at an exact point of
// its work (node/exchange DESIGN.md §7).
//
// A failpoint is a named call, Hit("name"), placed in the code right where a
// crash matters most (after a durable write, before recording its outcome).
// When the environment variable CRVSX_FAILPOINT equals that name, Hit sends
// the process SIGKILL: nothing after the call runs — no deferred function,
// no answer, no flush — exactly as if the machine lost power there (minus
// the page cache, which the kernel keeps). With the variable unset or
// naming another point, Hit does nothing and costs one string comparison.
//
// The variable is read once, when the process starts; a node never sets it
// itself. It is meant for tests that run the real binary
// (cmd/crvsx/node_process_test.go); an operator has no reason to set it.
package failpoint

import (
	"os"
	"syscall"
)

// Env is the environment variable that arms a failpoint.
const Env = "CRVSX_FAILPOINT"

// armed is the failpoint named by Env at start, "" for none.
var armed = os.Getenv(Env)

// Hit kills the process with SIGKILL if name is the armed failpoint, and
// does nothing otherwise.
func Hit(name string) {
	if armed == "" || name != armed {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	// SIGKILL cannot be caught, but its delivery is asynchronous: never
	// return into the code after the failpoint.
	select {}
}
