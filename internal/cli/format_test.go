package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOldFormatsRefused: a CAR and a home of the earlier data format are
// refused with one line that says the format changed, and nothing is
// changed: the CAR's blocks are not stored, the old home's files stay
// as they were (ac-init --repair too refuses to touch it).
func TestOldFormatsRefused(t *testing.T) {
	const said = "made by an older ArchiveCache data format, which this version does not read"
	car, err := os.ReadFile(filepath.Join("testdata", "formats", "v1-root.car"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHome(t)
	before := readHead(t, h)
	out, errOut, err := acRun(h, car, "ac-import")
	if code := exitCode(err); code != ExitFailure || out != "" {
		t.Errorf("ac-import of a format 1 CAR: exit %d, stdout %q", code, out)
	}
	if !strings.HasPrefix(errOut, "ac-import: ") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, said) {
		t.Errorf("ac-import of a format 1 CAR: stderr %q, want one line saying %q", errOut, said)
	}
	if readHead(t, h) != before {
		t.Errorf("ac-import of a format 1 CAR changed HEAD")
	}

	old := newHome(t)
	cfgFile := filepath.Join(old, "config")
	cfg, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	v1 := strings.Replace(string(cfg), `"version": 2`, `"version": 1`, 1)
	if v1 == string(cfg) {
		t.Fatalf("config %q does not name version 2", cfg)
	}
	if err := os.WriteFile(cfgFile, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"ac-ls", "root"}, {"ac-info"}, {"ac-init", "--repair"}} {
		out, errOut, err := acRun(old, nil, args...)
		if code := exitCode(err); code != ExitFailure || out != "" {
			t.Errorf("%s in a format 1 home: exit %d, stdout %q", args[0], code, out)
		}
		if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, said) || !strings.Contains(errOut, "ac-init") {
			t.Errorf("%s in a format 1 home: stderr %q, want one line saying %q and naming ac-init", args[0], errOut, said)
		}
	}
	if got, _ := os.ReadFile(cfgFile); string(got) != v1 {
		t.Errorf("the format 1 home's config was rewritten: %q", got)
	}
}
