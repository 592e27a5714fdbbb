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
//
// The same tag compiles a fake clock offset: TimeOffset is the duration
// in the environment variable CRVSX_FAKE_TIME_OFFSET (read once at start,
// time.ParseDuration syntax, e.g. "10m" or "-10m"), which the node adds to
// the time of its exchange clock (message createdAt, receipts, the time
// window, attempt times), so that a fault test can skew one node's clock
// in a container. In any other build TimeOffset is 0 whatever the
// environment says.
//
// Imports: the standard library only.
package failpoint

// Env is the environment variable that arms a failpoint (in a binary built
// with the crvsx_failpoint tag).
const Env = "CRVSX_FAILPOINT"

// TimeOffsetEnv is the environment variable of TimeOffset (in a binary
// built with the crvsx_failpoint tag).
const TimeOffsetEnv = "CRVSX_FAKE_TIME_OFFSET"
