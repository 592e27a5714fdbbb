//go:build !crvsx_failpoint

package failpoint

import (
	"os"
	"os/exec"
	"testing"
)

// TestHitIsInertWithoutTheTag re-executes the test binary with a failpoint
// armed by the environment: built without the tag, it must run to its end.
func TestHitIsInertWithoutTheTag(t *testing.T) {
	if Compiled {
		t.Fatal("Compiled is true in a build without the crvsx_failpoint tag")
	}
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		Hit("here")
		if TimeOffset() != 0 {
			os.Stdout.WriteString("fake time offset honoured\n")
		}
		os.Stdout.WriteString("after\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHitIsInertWithoutTheTag$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"=here", TimeOffsetEnv+"=10m")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v (a production build must not die at a failpoint, nor fake its clock)", err)
	}
	if string(out) != "after\n" {
		t.Fatalf("child wrote %q, want %q", out, "after\n")
	}
}
