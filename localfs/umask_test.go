package localfs

import (
	"os"
	"testing"
)

// TestParseUmask reads the umask from the text /proc/self/status holds,
// and refuses anything else.
func TestParseUmask(t *testing.T) {
	for _, tt := range []struct {
		status string
		want   os.FileMode
		ok     bool
	}{
		{"Name:\tac-get\nUmask:\t0022\nState:\tR (running)\n", 0o022, true},
		{"Name:\tac-get\nUmask:\t0077\n", 0o077, true},
		{"Umask:\t0000\n", 0, true},
		{"Name:\tac-get\nState:\tR (running)\n", 0, false}, // a kernel before 4.7
		{"Umask:\t0x22\n", 0, false},
		{"Umask:\t01777\n", 0, false},
		{"", 0, false},
	} {
		got, ok := parseUmask([]byte(tt.status))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseUmask(%q) = %v, %v, want %v, %v", tt.status, got, ok, tt.want, tt.ok)
		}
	}
	if m := processUmask(); m&^os.ModePerm != 0 {
		t.Errorf("processUmask() = %v, want permission bits only", m)
	}
}
