package otelsetup_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyEnv is set in the copy's environment, so that the copy does not copy
// itself again.
const copyEnv = "OTELSETUP_COPY_TEST"

// TestPackageWorksInAnotherModule copies the package with its tests, as a
// user does, into a module of another path and under another directory
// name, rewrites the import paths of its own packages (otelsetuptest and
// awstest come along), adds testdata/copied/copied_test.go, and runs
// `go test ./...` there, offline. It proves that the tests import nothing of
// this repository outside internal/otelsetup (such an import cannot resolve
// in the copy), and that the instrumentation scope name and the frames the
// recorded stacks leave out follow the package's path at run time.
func TestPackageWorksInAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests the package in a module of its own")
	}
	if os.Getenv(copyEnv) != "" {
		t.Skip("this is the copy")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	pkgDir := filepath.Join(dir, "tracing")
	const from, to = "github.com/xray-tracer/xray-tracer/internal/otelsetup", "example.com/copied/tracing"
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == filepath.Join("testdata", "copied", "copied_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".go") {
			b = bytes.ReplaceAll(b, []byte(`"`+from), []byte(`"`+to))
		}
		dst := filepath.Join(pkgDir, path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(filepath.Join("testdata", "copied", "copied_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "copied_test.go"), copied, 0o644); err != nil {
		t.Fatal(err)
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

	cmd := exec.Command(goTool, "test", "-count=1", "./...")
	cmd.Dir = dir
	// Offline: every module is in the cache already, as this test's own
	// build needed them.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", copyEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the copied package's tests failed: %v\n%s", err, out.String())
	}
	t.Logf("go test ./... in the copy:\n%s", out.String())
}
