// Command lambdabench measures what tracing costs a Lambda function, for
// every way of tracing it side by side in one run (`make bench`), and
// rewrites BENCHMARKS.md with the results, keeping the marked sections
// other runs own there (`make load`'s; internal/local/benchmd).
//
// Each variant is the same handler (bench/internal/work) built as a real
// bootstrap and run behind the Lambda Runtime API stand-in
// (internal/local/sandbox), exporting to a receiver on loopback that discards
// what it gets. Variants are interleaved round by round, so that what the
// machine does meanwhile falls on all of them alike.
//
//	go -C bench run ./cmd/lambdabench              # the full run, a few minutes
//	go -C bench run ./cmd/lambdabench -short       # a few iterations (CI)
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/benchmd"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
)

// variant is one way of building and running the handler.
type variant struct {
	id, title string
	function  string // the build (see builds)
	env       map[string]string
}

// plan says how many of each measurement to take.
type plan struct {
	coldStarts  int // init samples per variant
	warm        int // warm invocations per variant, 5 spans each
	rssFirst    int // invocations before the first RSS reading
	rssSecond   int // ... and before the second
	growth      int // invocations per variant and size
	hotpathRuns int // go test -count for the hot-path benchmarks
	faults      int // invocations per collector fault, and against the healthy one
	concurrent  int // invocations per variant with inFlight in flight
}

var (
	full  = plan{coldStarts: 30, warm: 2000, rssFirst: 1000, rssSecond: 10000, growth: 40, hotpathRuns: 6, faults: 20, concurrent: 8000}
	short = plan{coldStarts: 3, warm: 50, rssFirst: 50, rssSecond: 100, growth: 3, hotpathRuns: 1, faults: 2, concurrent: 80}
)

func main() {
	out := flag.String("out", "", "the Markdown file to rewrite, relative to the repository's root (default: BENCHMARKS.md)")
	isShort := flag.Bool("short", false, "a few iterations of everything, to check that it runs (times mean little)")
	flag.Parse()
	p := full
	if *isShort {
		p = short
	}
	if err := run(context.Background(), p, *isShort, *out); err != nil {
		log.Fatalf("lambdabench: %v", err)
	}
}

func run(ctx context.Context, p plan, isShort bool, out string) error {
	root, err := pattern.RepoRoot()
	if err != nil {
		return err
	}
	switch {
	case out == "":
		out = filepath.Join(root, "BENCHMARKS.md")
	case !filepath.IsAbs(out):
		// make runs this from bench/: a relative path is the repository's.
		out = filepath.Join(root, out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "lambdabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	rec, err := startReceivers()
	if err != nil {
		return err
	}
	defer rec.close()
	variants := []variant{
		{"a", "untraced control", "untraced", nil},
		{"b", "otelsetup, OTLP/HTTP", "otelsetup", map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rec.http}},
		{"c", "stock: otellambda + xrayconfig, OTLP/gRPC", "stock", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rec.grpc}},
		{"d", "otelsetup, xrayudp (no layer)", "otelsetup", map[string]string{
			"OTEL_TRACES_EXPORTER": "xrayudp", "AWS_XRAY_DAEMON_ADDRESS": rec.udp}},
		{"e", "otelsetup built with -tags otlpgrpc, OTLP/gRPC", "otelsetup-grpc", map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rec.grpc}},
		{"f", "otelsetup, OTEL_SDK_DISABLED=true", "otelsetup", map[string]string{"OTEL_SDK_DISABLED": "true"}},
		{"g", "X-Ray SDK for Go v2.0.0, UDP to the daemon", "xraysdk", map[string]string{
			"AWS_XRAY_DAEMON_ADDRESS": rec.udp}},
		{"h", "otelsetup with otelaws's middleware, OTLP/HTTP", "otelaws", map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + rec.http}},
	}

	r := &report{Variants: variants, Short: isShort, Plan: p}
	log.Printf("building %d functions for this machine and for linux/arm64", len(builds))
	bins, sizes, err := build(ctx, root, work)
	if err != nil {
		return err
	}
	r.Size = map[string]int64{}
	for _, v := range variants {
		r.Size[v.id] = sizes[v.function]
	}

	log.Printf("init: %d cold starts per variant", p.coldStarts)
	if r.Init, err = measureInit(ctx, variants, bins, p.coldStarts); err != nil {
		return err
	}
	log.Printf("warm: %d invocations per variant", p.warm)
	if r.Warm, err = measureWarm(ctx, variants, bins, p.warm); err != nil {
		return err
	}
	log.Printf("growth: spans per invocation and SQS batches")
	if r.Growth, err = measureGrowth(ctx, variants, bins, p.growth); err != nil {
		return err
	}
	log.Printf("memory: RSS after %d and %d invocations", p.rssFirst, p.rssSecond)
	if r.RSS, err = measureRSS(ctx, variants, bins, p.rssFirst, p.rssSecond); err != nil {
		return err
	}
	log.Printf("concurrency: %d invocations per variant, %d in flight", p.concurrent, inFlight)
	if r.Concurrency, err = measureConcurrency(ctx, variants, bins, p.concurrent); err != nil {
		return err
	}
	log.Printf("collector faults: %d invocations per fault (about a second each)", p.faults)
	if r.Faults, err = measureFaults(ctx, bins, p.faults); err != nil {
		return err
	}
	log.Printf("hot paths: go test -bench, %d runs", p.hotpathRuns)
	if r.Hotpaths, err = hotpaths(ctx, root, p.hotpathRuns); err != nil {
		return err
	}
	r.Received = rec.counts()
	r.Machine = benchmd.Machine()
	r.Date = time.Now().UTC().Format("2006-01-02 15:04 MST")
	r.GoVersion = runtime.Version()
	var doc strings.Builder
	if err := r.write(&doc); err != nil {
		return err
	}
	// The sections other runs own (make load's) stay: see benchmd.
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(out, []byte(benchmd.Keep(string(old), doc.String())), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", out)
	return nil
}

// builds are the binaries the variants run: a directory under
// bench/functions, built with tags.
var builds = []struct{ name, dir, tags string }{
	{"untraced", "untraced", ""},
	{"otelsetup", "otelsetup", ""},
	{"otelsetup-grpc", "otelsetup", "otlpgrpc"},
	{"stock", "stock", ""},
	{"xraysdk", "xraysdk", ""},
	{"otelaws", "otelaws", ""},
}

// build compiles each function twice: for this machine, to run it, and as
// Lambda runs it (linux/arm64, static, stripped), to weigh it.
func build(ctx context.Context, root, dir string) (map[string]string, map[string]int64, error) {
	bins, sizes := map[string]string{}, map[string]int64{}
	for _, b := range builds {
		for _, target := range []struct{ goos, goarch string }{{runtime.GOOS, runtime.GOARCH}, {"linux", "arm64"}} {
			out := filepath.Join(dir, target.goos+"-"+target.goarch, b.name, "bootstrap")
			cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc "+b.tags, "-trimpath", "-ldflags=-s -w", "-o", out, "./functions/"+b.dir)
			cmd.Dir = filepath.Join(root, "bench")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+target.goos, "GOARCH="+target.goarch)
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, nil, fmt.Errorf("build %s for %s/%s: %w\n%s", b.name, target.goos, target.goarch, err, out)
			}
			if target.goos == "linux" && target.goarch == "arm64" {
				fi, err := os.Stat(out)
				if err != nil {
					return nil, nil, err
				}
				sizes[b.name] = fi.Size()
			}
			if target.goos == runtime.GOOS && target.goarch == runtime.GOARCH {
				bins[b.name] = out
			}
		}
	}
	return bins, sizes, nil
}

func function(v variant, bins map[string]string) sandbox.Function {
	return sandbox.Function{
		Name: "bench-" + v.function, Bootstrap: bins[v.function], Env: v.env,
		MemoryMB: 128, Timeout: 10 * time.Second,
	}
}

// measureInit starts each variant n times, interleaved, and keeps each
// Init phase: process start to the first poll for an invocation.
func measureInit(ctx context.Context, variants []variant, bins map[string]string, n int) (map[string][]time.Duration, error) {
	out := map[string][]time.Duration{}
	var closing sync.WaitGroup
	defer closing.Wait()
	for round := range n {
		for i := range variants {
			v := variants[(i+round)%len(variants)]
			sb, err := sandbox.Start(ctx, function(v, bins))
			if err != nil {
				return nil, fmt.Errorf("(%s) %s: %w", v.id, v.title, err)
			}
			out[v.id] = append(out[v.id], sb.InitDuration())
			// A stop takes the Shutdown phase's grace; do not wait for it.
			closing.Go(func() { _ = sb.Close() })
		}
	}
	return out, nil
}

// measureWarm keeps, for each variant, n invocations of 5 spans each after
// a warm-up: the time from /next's answer to the runtime's response, flush
// included.
func measureWarm(ctx context.Context, variants []variant, bins map[string]string, n int) (map[string][]time.Duration, error) {
	sbs, err := startAll(ctx, variants, bins)
	if err != nil {
		return nil, err
	}
	defer closeAll(sbs)
	payload := []byte(`{"spans":5}`)
	for _, v := range variants {
		for range 50 {
			if _, err := invoke(ctx, sbs[v.id], payload); err != nil {
				return nil, fmt.Errorf("(%s) warm-up: %w", v.id, err)
			}
		}
	}
	out := map[string][]time.Duration{}
	const batch = 100
	for done := 0; done < n; done += batch {
		for _, v := range variants {
			for range min(batch, n-done) {
				d, err := invoke(ctx, sbs[v.id], payload)
				if err != nil {
					return nil, fmt.Errorf("(%s): %w", v.id, err)
				}
				out[v.id] = append(out[v.id], d)
			}
		}
	}
	return out, nil
}

// sizes of the growth measurement.
var growthSizes = []struct {
	name  string
	spans int // spans per invocation, the invocation's own included
	event string
}{
	{"1 span", 1, `{"spans":1}`},
	{"10 spans", 10, `{"spans":10}`},
	{"100 spans", 100, `{"spans":100}`},
	{"1000 spans", 1000, `{"spans":1000}`},
	{"SQS batch of 1", 2, sqsEvent(1)},
	{"SQS batch of 10", 11, sqsEvent(10)},
}

func sqsEvent(n int) string {
	var recs []string
	for i := range n {
		recs = append(recs, fmt.Sprintf(`{"messageId":"m-%d","body":"hello from /bench/%d","eventSource":"aws:sqs"}`, i, i))
	}
	return `{"Records":[` + strings.Join(recs, ",") + `]}`
}

// measureGrowth keeps n invocations per variant and size.
func measureGrowth(ctx context.Context, variants []variant, bins map[string]string, n int) (map[string]map[string][]time.Duration, error) {
	sbs, err := startAll(ctx, variants, bins)
	if err != nil {
		return nil, err
	}
	defer closeAll(sbs)
	out := map[string]map[string][]time.Duration{}
	for _, size := range growthSizes {
		out[size.name] = map[string][]time.Duration{}
		for round := range n + 3 {
			for _, v := range variants {
				d, err := invoke(ctx, sbs[v.id], []byte(size.event))
				if err != nil {
					return nil, fmt.Errorf("(%s) %s: %w", v.id, size.name, err)
				}
				if round >= 3 { // the first are warm-up
					out[size.name][v.id] = append(out[size.name][v.id], d)
				}
			}
		}
	}
	return out, nil
}

// measureRSS reads each process's resident memory after first and second
// invocations, interleaved.
func measureRSS(ctx context.Context, variants []variant, bins map[string]string, first, second int) (map[string][2]int64, error) {
	sbs, err := startAll(ctx, variants, bins)
	if err != nil {
		return nil, err
	}
	defer closeAll(sbs)
	out := map[string][2]int64{}
	payload := []byte(`{"spans":5}`)
	const batch = 500
	total := 0
	for i, target := range []int{first, second} {
		for total < target {
			step := min(batch, target-total)
			for _, v := range variants {
				for range step {
					if _, err := invoke(ctx, sbs[v.id], payload); err != nil {
						return nil, fmt.Errorf("(%s): %w", v.id, err)
					}
				}
			}
			total += step
		}
		for _, v := range variants {
			kb, err := rss(sbs[v.id].PID())
			if err != nil {
				return nil, err
			}
			r := out[v.id]
			r[i] = kb
			out[v.id] = r
		}
	}
	return out, nil
}

// rss reads VmRSS, in kB, from /proc.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("RSS of %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc/status")
}

func startAll(ctx context.Context, variants []variant, bins map[string]string) (map[string]*sandbox.Lambda, error) {
	sbs := map[string]*sandbox.Lambda{}
	for _, v := range variants {
		sb, err := sandbox.Start(ctx, function(v, bins))
		if err != nil {
			closeAll(sbs)
			return nil, fmt.Errorf("(%s) %s: %w", v.id, v.title, err)
		}
		sbs[v.id] = sb
	}
	return sbs, nil
}

func closeAll(sbs map[string]*sandbox.Lambda) {
	var wg sync.WaitGroup
	for _, sb := range sbs {
		wg.Go(func() { _ = sb.Close() })
	}
	wg.Wait()
}

// invoke runs one invocation with a fresh trace header, sampled, as Lambda
// passes it with active tracing, and returns its duration.
func invoke(ctx context.Context, sb *sandbox.Lambda, payload []byte) (time.Duration, error) {
	res, err := sb.Invoke(ctx, payload, traceHeader())
	if err != nil {
		return 0, err
	}
	if res.Err != nil {
		return 0, res.Err
	}
	return res.Duration, nil
}

func traceHeader() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=1", time.Now().Unix(), h[:24], h[24:])
}

// receivers discard what the variants export: OTLP over HTTP and gRPC, and
// X-Ray daemon datagrams over UDP.
type receivers struct {
	http, grpc, udp string
	close           func()

	mu                 sync.Mutex
	nHTTP, nGRPC, nUDP int
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	r *receivers
}

func (s traceService) Export(context.Context, *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.r.mu.Lock()
	s.r.nGRPC++
	s.r.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func startReceivers() (*receivers, error) {
	r := &receivers{}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.nHTTP++
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	go func() { _ = hs.Serve(httpLn) }()
	grpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, traceService{r: r})
	go func() { _ = gs.Serve(grpcLn) }()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
			r.mu.Lock()
			r.nUDP++
			r.mu.Unlock()
		}
	}()
	r.http, r.grpc, r.udp = httpLn.Addr().String(), grpcLn.Addr().String(), udp.LocalAddr().String()
	r.close = func() {
		_ = hs.Close()
		gs.Stop()
		_ = udp.Close()
	}
	return r, nil
}

func (r *receivers) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return map[string]int{"OTLP/HTTP requests": r.nHTTP, "OTLP/gRPC requests": r.nGRPC, "UDP datagrams": r.nUDP}
}

// hotpaths runs the Go benchmarks of bench/hotpath (each path, this
// project's way and the stock way) and compares the two with benchstat.
func hotpaths(ctx context.Context, root string, count int) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(count), "./hotpath")
	cmd.Dir = filepath.Join(root, "bench")
	raw, err := stdout(cmd)
	if err != nil {
		return "", fmt.Errorf("go test -bench ./hotpath: %w", err)
	}
	f, err := os.CreateTemp("", "hotpath-*.txt")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(raw); err != nil {
		return "", err
	}
	_ = f.Close()
	stat := exec.CommandContext(ctx, "go", "tool", "benchstat", "-col", "/impl", f.Name())
	stat.Dir = filepath.Join(root, "bench")
	b, err := stdout(stat)
	if err != nil {
		return "", fmt.Errorf("benchstat: %w", err)
	}
	return strings.ReplaceAll(string(b), f.Name(), "hotpath"), nil
}

// stdout runs cmd and returns what it printed on stdout alone: the go
// command reports on stderr what it does besides ("go: downloading …" when
// a tool's module is not in the cache yet), which must not end up in a
// table. stderr comes back in the error when cmd fails.
func stdout(cmd *exec.Cmd) ([]byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%w\n%s%s", err, out, stderr.Bytes())
	}
	return out, nil
}
