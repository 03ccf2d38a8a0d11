package cli

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// acEnv runs a command as acRun does, with env added to its environment.
func acEnv(home string, env []string, args ...string) (string, string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), "AC_HOME="+home, "AC_API=", "AC_PASSPHRASE=", "AC_FETCH_TIMEOUT="), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestFetchTimeoutUsage checks that a fetch timeout that is no duration,
// or none at all, is bad usage whether it comes from --fetch-timeout or
// AC_FETCH_TIMEOUT, and that a good one is taken.
func TestFetchTimeoutUsage(t *testing.T) {
	h := newHome(t)
	for _, tt := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"ac-ls", "--fetch-timeout", "soon", "root"}, `invalid value "soon" for flag -fetch-timeout`},
		{nil, []string{"ac-cat", "--fetch-timeout=0", "root/x"}, "fetch timeout 0s: want more than 0"},
		{nil, []string{"ac-get", "--fetch-timeout", "-1s", "root", "out"}, "fetch timeout -1s: want more than 0"},
		{[]string{"AC_FETCH_TIMEOUT=soon"}, []string{"ac-ls", "root"}, `AC_FETCH_TIMEOUT="soon": not a duration`},
		{[]string{"AC_FETCH_TIMEOUT=0"}, []string{"ac-ls", "root"}, "fetch timeout 0s: want more than 0"},
	} {
		_, errOut, err := acEnv(h, tt.env, tt.args...)
		if exitCode(err) != ExitUsage {
			t.Errorf("%v %v: exit %d, want %d (bad usage); stderr %q", tt.env, tt.args, exitCode(err), ExitUsage, errOut)
			continue
		}
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], tt.want) || !strings.HasPrefix(lines[1], "usage: ") {
			t.Errorf("%v %v: stderr %q, want one line saying %q and the usage", tt.env, tt.args, errOut, tt.want)
		}
	}
	for _, tt := range []struct{ env, args []string }{
		{nil, []string{"ac-ls", "--fetch-timeout", "500ms", "root"}},
		{[]string{"AC_FETCH_TIMEOUT=2s"}, []string{"ac-ls", "root"}},
		// The flag wins over the environment, as --lock-timeout does.
		{[]string{"AC_FETCH_TIMEOUT=soon"}, []string{"ac-ls", "--fetch-timeout", "1s", "root"}},
	} {
		if out, errOut, err := acEnv(h, tt.env, tt.args...); err != nil || !strings.Contains(out, "projects") {
			t.Errorf("%v %v: %v, stdout %q, stderr %q", tt.env, tt.args, err, out, errOut)
		}
	}
}
