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
// itself. Failpoints exist only in a binary built with the build tag
// crvsx_failpoint, as the tests that run the real binary build it
// (cmd/crvsx/node_process_test.go); in any other build Hit is empty and the
// variable is ignored, so a production node cannot be killed through it.
package failpoint

// Env is the environment variable that arms a failpoint (in a binary built
// with the crvsx_failpoint tag).
const Env = "CRVSX_FAILPOINT"
