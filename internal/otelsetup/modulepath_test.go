package otelsetup_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPackageWorksInAnotherModule copies the package, as a user does, into a
// module of another path and under another directory name, and runs
// testdata/copied/copied_test.go there: the instrumentation scope name and
// the frames the recorded stacks leave out follow the package's path at run
// time, not this module's.
func TestPackageWorksInAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package in a module of its own")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	pkgDir := filepath.Join(dir, "tracing")
	if err := os.Mkdir(pkgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range append(sources, "testdata/copied/copied_test.go") {
		if strings.HasSuffix(src, "_test.go") && !strings.HasPrefix(src, "testdata/") {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkgDir, filepath.Base(src)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The same requirements as this module, under another module path.
	goMod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goMod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(goMod, []byte("module example.com/copied"))
	goSum, err := os.ReadFile("../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"go.mod": goMod, "go.sum": goSum} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(goTool, "test", "-count=1", "./tracing")
	cmd.Dir = dir
	// Offline: every module is in the cache already, as this test's own
	// build needed them.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the copied package's tests failed: %v\n%s", err, out.String())
	}
}
