// Package pattern knows the pattern's Lambda functions as sources: their
// names, the repository they live in, and how to build them for this machine.
// The local runner, the fidelity harness and the benchmarks share it, so that
// all of them run the very binaries `make build` makes for Lambda, built for
// the machine they run on.
package pattern

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// Functions are the pattern's Lambda functions, as named under cmd/.
var Functions = []string{"dynamo", "http", "sqs", "sqs-subscribe", "sns-publish", "sns-subscribe"}

// RepoRoot returns the repository's root: the nearest directory above the
// working directory that holds collector.yaml.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "collector.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no collector.yaml above the working directory: run from inside the xray-tracer repository")
		}
		dir = parent
	}
}

// Build builds each named function (all of them when names is empty) as
// Lambda runs it, but for this machine: a static binary named bootstrap,
// -tags lambda.norpc, stripped, in dir/<name>/bootstrap. It returns the
// paths by name. The builds run at once, as one `go build` of several
// packages would.
func Build(ctx context.Context, root, dir string, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		names = Functions
	}
	out := map[string]string{}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		bin := filepath.Join(dir, name, "bootstrap")
		out[name] = bin
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/"+name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %w\n%s", name, err, b)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
