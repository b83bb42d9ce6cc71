package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
)

// binaries are what the stack runs.
type binaries struct {
	root      string // the repository, where collector.yaml is
	functions map[string]string
	goaws     string
	dynalite  string
	jaeger    jaegerBinary
	collector string // otelcol-xray, the layer's collector
}

// prepare builds or finds every program the stack runs. Jaeger and the
// collector are the two large builds of a first start: with more than one
// core they build at once, each go build spreading over the cores it gets,
// since neither alone keeps two cores busy all along (a build's link step
// is serial).
func prepare(ctx context.Context, root string, cfg settings, say func(string, ...any)) (binaries, error) {
	bin := filepath.Join(root, "bin")
	b := binaries{root: root, goaws: filepath.Join(bin, "goaws")}
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
	if !cfg.jaeger {
		return b, nil
	}
	var jaegerErr, collectorErr error
	var wg sync.WaitGroup
	parallel := runtime.NumCPU() > 1
	if cfg.jaegerURL == "" {
		find := func() { b.jaeger, jaegerErr = findJaeger(ctx, root, say) }
		if parallel {
			wg.Go(find)
		} else {
			find()
		}
	}
	b.collector, collectorErr = buildCollector(ctx, root, say)
	wg.Wait()
	return b, errors.Join(jaegerErr, collectorErr)
}

// collectorDir is the module of the collector nearest the ADOT Lambda layer
// (test/collector/newest, the fidelity tests' "layer" variant): the runner
// builds the same package with the same flags, so the two share Go's build
// cache and CI compiles it once.
const collectorDir = "test/collector/newest"

// buildCollector builds otelcol-xray into bin/otelcol-xray unless it is
// newer than its module's files.
func buildCollector(ctx context.Context, root string, say func(string, ...any)) (string, error) {
	dir := filepath.Join(root, filepath.FromSlash(collectorDir))
	out := filepath.Join(root, "bin", "otelcol-xray")
	inputs := []string{
		filepath.Join(dir, "go.mod"), filepath.Join(dir, "go.sum"), filepath.Join(dir, "main.go"),
		filepath.Join(dir, "..", "go.mod"), filepath.Join(dir, "..", "compose", "compose.go"),
	}
	if emulators.UpToDate(out, inputs...) {
		return out, nil
	}
	say("building the OpenTelemetry Collector from %s (the ADOT layer's awsxray exporter): the first build takes a few minutes on 2 cores, later ones seconds", collectorDir)
	return out, goBuild(ctx, dir, "otelcol-xray", ".", out, say)
}

// buildTool builds a Go tool pinned in its own module under tools/ into
// out, unless out is newer than the module's go.mod and go.sum (and main.go,
// for a module that is itself the command).
func buildTool(ctx context.Context, root, module, pkg, out string, say func(string, ...any)) error {
	dir := filepath.Join(root, "tools", module)
	if emulators.UpToDate(out, filepath.Join(dir, "go.mod"), filepath.Join(dir, "go.sum"), filepath.Join(dir, "main.go")) {
		return nil
	}
	return goBuild(ctx, dir, module, pkg, out, say)
}

// goBuild builds pkg of the module in dir into out. The first build of a
// large program takes minutes: say so and show that it goes on.
func goBuild(ctx context.Context, dir, name, pkg, out string, say func(string, ...any)) error {
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
				say("  still building %s (%v so far)", name, time.Since(start).Round(time.Second))
			}
		}
	}()
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build %s: interrupted (the next run goes on from Go's build cache)", name)
		}
		return fmt.Errorf("build %s: %w\n%s", name, err, b)
	}
	say("  built %s in %v", name, time.Since(start).Round(time.Second))
	return nil
}
