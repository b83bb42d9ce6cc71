package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/emulators"
)

// functions are the pattern's Lambda functions, as named under cmd/.
var functions = []string{"dynamo", "http", "sqs", "sqs-subscribe", "sns-publish", "sns-subscribe"}

// repoRoot is the nearest directory above the working directory that holds
// this repository's go.mod and collector.yaml.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "collector.yaml")) && isFile(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the xray-tracer repository (no collector.yaml above the working directory)")
		}
		dir = parent
	}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// buildFunctions builds each function's bootstrap for this machine, as
// Lambda runs it (static, -tags lambda.norpc), into dir/<name>/bootstrap.
func buildFunctions(ctx context.Context, root, dir string) (map[string]string, error) {
	out := map[string]string{}
	args := []string{"build", "-tags", "lambda.norpc", "-o", dir + string(filepath.Separator)}
	for _, name := range functions {
		args = append(args, "./cmd/"+name)
		out[name] = filepath.Join(dir, name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the functions: %w\n%s", err, b)
	}
	return out, nil
}

// buildTool builds a Go tool pinned in its own module under tools/ into
// out, unless out is newer than the module's go.mod and go.sum (and main.go,
// for a module that is itself the command). The first build of a large tool
// takes minutes: say so and show that it goes on.
func buildTool(ctx context.Context, root, module, pkg, out string, say func(string, ...any)) error {
	dir := filepath.Join(root, "tools", module)
	if emulators.UpToDate(out, filepath.Join(dir, "go.mod"), filepath.Join(dir, "go.sum"), filepath.Join(dir, "main.go")) {
		return nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	done := make(chan struct{})
	defer close(done)
	start := time.Now()
	go func() {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				say("  still building %s (%v so far)", module, time.Since(start).Round(time.Second))
			}
		}
	}()
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build %s: interrupted (the next run goes on from Go's build cache)", module)
		}
		return fmt.Errorf("build %s: %w\n%s", module, err, b)
	}
	say("  built %s in %v", module, time.Since(start).Round(time.Second))
	return nil
}
