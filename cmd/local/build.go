package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
)

// binaries are what the stack runs.
type binaries struct {
	functions map[string]string
	goaws     string
	dynalite  string
	jaeger    jaegerBinary
}

// prepare builds or finds every program the stack runs.
func prepare(ctx context.Context, root string, cfg settings, say func(string, ...any)) (binaries, error) {
	bin := filepath.Join(root, "bin")
	b := binaries{goaws: filepath.Join(bin, "goaws")}
	say("building the functions")
	var err error
	if b.functions, err = pattern.Build(ctx, root, filepath.Join(bin, "local", "functions")); err != nil {
		return b, err
	}
	if err := emulators.BuildGoaws(ctx, root, b.goaws); err != nil {
		return b, err
	}
	if b.dynalite, err = emulators.InstallDynalite(ctx, root, say); err != nil {
		return b, err
	}
	if cfg.jaeger {
		b.jaeger, err = findJaeger(ctx, root, say)
	}
	return b, err
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
