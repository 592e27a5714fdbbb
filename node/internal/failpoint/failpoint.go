//go:build crvsx_failpoint

package failpoint

import (
	"os"
	"syscall"
	"time"
)

// Compiled reports whether failpoints are in this binary.
const Compiled = true

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

// timeOffset is TimeOffsetEnv parsed at start; an unparsable value is 0.
var timeOffset, _ = time.ParseDuration(os.Getenv(TimeOffsetEnv))

// TimeOffset is the fake offset of the node's clock (TimeOffsetEnv).
func TimeOffset() time.Duration { return timeOffset }
