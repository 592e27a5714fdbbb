//go:build !crvsx_failpoint

package failpoint

import "time"

// Compiled reports whether failpoints are in this binary: not in this
// build, where Hit does nothing whatever the environment says.
const Compiled = false

// Hit does nothing: this binary was built without the crvsx_failpoint tag.
func Hit(name string) {}

// TimeOffset is 0: this binary was built without the crvsx_failpoint tag,
// and CRVSX_FAKE_TIME_OFFSET is ignored.
func TimeOffset() time.Duration { return 0 }
