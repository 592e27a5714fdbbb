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
		os.Stdout.WriteString("after\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHitIsInertWithoutTheTag$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"=here")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v (a production build must not die at a failpoint)", err)
	}
	if string(out) != "after\n" {
		t.Fatalf("child wrote %q, want %q", out, "after\n")
	}
}
