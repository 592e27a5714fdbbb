//go:build crvsx_failpoint

package failpoint

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestHit re-executes the test binary with the failpoint armed: the child
// must die by SIGKILL at Hit and never print what follows it.
func TestHit(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		Hit("other") // not armed: returns
		os.Stdout.WriteString("before\n")
		Hit("here")
		os.Stdout.WriteString("after\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHit$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"=here")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v, output %q", err, out)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", ee)
	}
	if string(out) != "before\n" {
		t.Fatalf("child wrote %q, want only %q", out, "before\n")
	}
}

func TestNotArmed(t *testing.T) {
	if armed != "" {
		return // the re-executed child of TestHitKills: armed on purpose
	}
	Hit("inbound-after-accept") // does nothing: the test goes on
	Hit("")
}

// TestTimeOffset re-executes the test binary with a fake clock offset in
// its environment: built with the tag, TimeOffset is it.
func TestTimeOffset(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "2" {
		os.Stdout.WriteString(TimeOffset().String())
		os.Exit(0)
	}
	for _, tc := range []struct{ env, want string }{{"10m", "10m0s"}, {"-10m", "-10m0s"}, {"garbage", "0s"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTimeOffset$")
		cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=2", TimeOffsetEnv+"="+tc.env)
		out, err := cmd.Output()
		if err != nil || string(out) != tc.want {
			t.Errorf("%s=%s: %q, %v; want %q", TimeOffsetEnv, tc.env, out, err, tc.want)
		}
	}
}
