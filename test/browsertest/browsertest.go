// Package browsertest drives headless Chromium for the tests that look at
// the X-Ray view as a person does: test/xrayview (the page on recorded
// documents) and test/local (the runner's page after requests through the
// whole local stack).
//
// Chromium comes from Debian's chromium package (.ci/run installs it).
// Without it the tests skip, except under CI=true, where a missing browser
// fails.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: $CHROMIUM, else chromium on PATH. It skips the
// test when there is none, or fails it under CI=true.
func Path(t testing.TB) string {
	t.Helper()
	name := os.Getenv("CHROMIUM")
	if name == "" {
		name = "chromium"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no browser for the X-Ray view's test: %v (CI installs Debian's chromium package: apt-get install -y chromium)", err)
		}
		t.Skipf("skipping the real-browser test: %v (install it with apt-get install -y chromium, or set CHROMIUM)", err)
	}
	return p
}

// Start starts headless Chromium with the flags that work on the project's
// machines (no sandbox as root, no GPU, no network of its own) and a fresh
// profile; the returned context drives one tab for at most timeout.
func Start(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// Screenshot writes the whole page as a PNG named name into each of dirs.
func Screenshot(t testing.TB, ctx context.Context, name string, dirs ...string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", file)
	}
}

// A TimelineRow is one segment or subsegment in the page's timeline.
type TimelineRow struct {
	Name, Status string
	Depth        int
}

// A Timeline is what the page shows of one trace with a failure: its rows,
// and the first cause's exception text and stack depth.
type Timeline struct {
	Rows      []TimelineRow
	Exception string
	Frames    int
}

// Names lists the rows' names.
func (tl Timeline) Names() []string {
	names := make([]string, len(tl.Rows))
	for i, r := range tl.Rows {
		names[i] = r.Name
	}
	return names
}

// Faulted reports whether a row called name is a fault.
func (tl Timeline) Faulted(name string) bool {
	for _, r := range tl.Rows {
		if r.Name == name && r.Status == "fault" {
			return true
		}
	}
	return false
}

// ReadTimeline opens the page at base on the trace id (X-Ray form), waits
// until its timeline and a cause are drawn, and reads them from the DOM.
func ReadTimeline(t testing.TB, ctx context.Context, base, id string) Timeline {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/#/trace/"+id),
		chromedp.Reload(), // a change of the hash alone does not reload the page
		chromedp.WaitVisible(chromedp.CSS(`table.timeline tbody tr`)),
		chromedp.WaitVisible(chromedp.CSS(`.segment-details .exception`)),
	); err != nil {
		t.Fatalf("timeline of %s: %v", id, err)
	}
	var tl Timeline
	var err error
	if tl.Rows, err = chromedp.Run(ctx, chromedp.Evaluate[[]TimelineRow](`Array.from(document.querySelectorAll('table.timeline tbody tr')).map(r => ({
		Name: r.dataset.name, Status: r.dataset.status, Depth: +r.dataset.depth}))`)); err != nil {
		t.Fatal(err)
	}
	if tl.Exception, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.segment-details .exception`))); err != nil {
		t.Fatal(err)
	}
	if tl.Frames, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.segment-details ol.stack li').length`)); err != nil {
		t.Fatal(err)
	}
	return tl
}
