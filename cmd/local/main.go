package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
)

// settings are the runner's flags.
type settings struct {
	requests    int
	exit        bool
	api         string
	jaegerUI    string
	jaegerURL   string // a Jaeger already running: start none
	otlp        string
	collector   string // the collector's OTLP/HTTP receiver
	xrayView    string // the X-Ray view's page
	goaws       string
	dynalite    string
	concurrency int
	visibility  int           // the queue's visibility timeout, in seconds
	consumer    time.Duration // sqs-subscribe's timeout
	load        loadSettings
	rate        float64
	burst       int
	outDir      string
	jaeger      bool // traces go to the local Jaeger
	stdout      io.Writer
}

func main() {
	var cfg settings
	flag.IntVar(&cfg.requests, "requests", 0, "send `N` requests at varied paths once the stack is up, and print a summary")
	flag.BoolVar(&cfg.exit, "exit", false, "stop after -requests; exit non-zero if a trace is incomplete or a hit is missing")
	flag.StringVar(&cfg.api, "api", "127.0.0.1:3000", "the API stand-in's address (sam local start-api's port)")
	flag.StringVar(&cfg.jaegerUI, "jaeger", "127.0.0.1:16686", "Jaeger's API and UI address")
	flag.StringVar(&cfg.otlp, "otlp", "127.0.0.1:4318", "Jaeger's OTLP/HTTP address (with -jaeger-url: the URL's host, port 4318, unless set)")
	flag.StringVar(&cfg.jaegerURL, "jaeger-url", os.Getenv("JAEGER_URL"), "use the Jaeger already running at this `URL` (its API and UI, e.g. http://localhost:16686; default $JAEGER_URL) instead of starting one: spans go to its OTLP/HTTP receiver (-otlp)")
	flag.StringVar(&cfg.collector, "collector", "", "the OpenTelemetry Collector's OTLP/HTTP address, where the functions export (a free loopback port unless set)")
	flag.StringVar(&cfg.xrayView, "xray", "127.0.0.1:16700", "the X-Ray view's address: the trace map and traces as the X-Ray console shows them")
	flag.StringVar(&cfg.goaws, "goaws", "127.0.0.1:4100", "the SNS and SQS emulator's address")
	flag.StringVar(&cfg.dynalite, "dynalite", "127.0.0.1:4567", "the DynamoDB emulator's address")
	flag.IntVar(&cfg.concurrency, "concurrency", 2, "sandboxes per function, and SQS pollers")
	// Shorter than the template's 60 s, so that a failed record comes back
	// within seconds; Lambda wants it at least the function's timeout (10 s).
	flag.IntVar(&cfg.visibility, "visibility-timeout", 10, "the queue's visibility timeout in `seconds`: a failed record comes back after it, and goes to the dead-letter queue after 3 receives; at least -sqs-subscribe-timeout, as Lambda requires")
	flag.DurationVar(&cfg.consumer, "sqs-subscribe-timeout", functionTimeout, "sqs-subscribe's timeout (the template's 10 s); shorter, a batch held past it times out sooner")
	flag.IntVar(&cfg.load.requests, "load", 0, "`N` requests under bounded load (make load): the throttle raised, free loopback ports unless set, checks and figures printed, then exit")
	flag.IntVar(&cfg.load.inFlight, "in-flight", 50, "with -load: requests in flight at once")
	flag.IntVar(&cfg.load.poison, "poison", 10, "with -load: poison records put on the queue, which must end in the dead-letter queue")
	flag.StringVar(&cfg.load.report, "report", "", "with -load: the Markdown `file` whose load section the run rewrites (make load: BENCHMARKS.md)")
	flag.Float64Var(&cfg.rate, "rate", 100, "the API's throttle: requests per second (429 past it)")
	flag.IntVar(&cfg.burst, "burst", 200, "the API's throttle: burst")
	flag.StringVar(&cfg.outDir, "out", "out/local", "where the logs and generated configs go")
	flag.Parse()
	cfg.stdout = os.Stdout
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := cfg.check(set); err != nil {
		fmt.Fprintf(os.Stderr, "local: %v\n", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "local: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// run builds and starts the stack, sends -requests and checks them, then
// serves and answers the prompt on stdin until ctx ends (Ctrl-C) or a
// process of the stack dies; it always stops the stack before it returns.
func run(ctx context.Context, cfg settings, stdin io.Reader) error {
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(cfg.stdout, format+"\n", args...)
	}
	exporter := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))
	cfg.jaeger = exporter == "" || exporter == "otlp"
	if cfg.jaeger {
		// OTLP goes to the local Jaeger: the functions' (which get the
		// runner's OTEL_* variables) and the runner's own AWS-side spans.
		for k, v := range map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + cfg.otlp,
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		} {
			if err := os.Setenv(k, v); err != nil {
				return err
			}
		}
	}
	root, err := pattern.RepoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(cfg.outDir) {
		cfg.outDir = filepath.Join(root, cfg.outDir)
	}
	if r := cfg.load.report; r != "" && !filepath.IsAbs(r) {
		cfg.load.report = filepath.Join(root, r)
	}
	if cfg.jaeger && cfg.collector == "" {
		if cfg.collector, err = freeLoopback(); err != nil {
			return err
		}
	}
	if err := portsFree(cfg); err != nil {
		return err
	}
	begin := time.Now()
	bins, err := prepare(ctx, root, cfg, say)
	if err != nil {
		return err
	}
	s, err := start(ctx, cfg, bins, say)
	if err != nil {
		return err
	}
	defer func() {
		say("stopping…")
		s.stop(context.Background())
		say("stopped: every process ended, every port freed")
	}()
	say("ready in %v (logs in %s)", time.Since(begin).Round(100*time.Millisecond), cfg.outDir)
	if err := s.writePIDs(); err != nil {
		return err
	}
	s.printURLs(bins.jaeger)

	if cfg.load.requests > 0 {
		return s.runLoad(ctx)
	}
	if cfg.requests > 0 {
		_, err := s.fire(ctx, 0, cfg.requests, 1)
		if err == nil {
			err = s.summary(ctx)
		}
		if cfg.exit || ctx.Err() != nil {
			return err
		}
		if err != nil {
			say("%v", err)
		}
	}
	if cfg.exit {
		return nil
	}
	go s.readCommands(ctx, stdin)
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.exited():
		return fmt.Errorf("a process of the stack died: %w", err)
	}
}

// check refuses settings that cannot work, and fills in those that -load
// implies; set holds the flags given on the command line.
func (cfg *settings) check(set map[string]bool) error {
	// Lambda refuses an SQS event source whose queue's visibility timeout is
	// below the function's timeout ("Queue visibility timeout: 30 seconds is
	// less than Function timeout: 300 seconds"): a batch still running would
	// come back to another poller.
	if time.Duration(cfg.visibility)*time.Second < cfg.consumer {
		return fmt.Errorf("-visibility-timeout %d is below -sqs-subscribe-timeout %v: Lambda requires the queue's visibility timeout to be at least the function's timeout", cfg.visibility, cfg.consumer)
	}
	if cfg.jaegerURL != "" {
		u, err := url.Parse(cfg.jaegerURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("-jaeger-url (or JAEGER_URL) %q: want Jaeger's query URL, such as http://localhost:16686", cfg.jaegerURL)
		}
		cfg.jaegerURL = strings.TrimSuffix(u.String(), "/")
		cfg.jaegerUI = u.Host
		if !set["otlp"] {
			// Jaeger's own default port for OTLP/HTTP.
			cfg.otlp = net.JoinHostPort(u.Hostname(), "4318")
		}
		set["jaeger"], set["otlp"] = true, true
	}
	if cfg.load.requests <= 0 {
		return nil
	}
	if cfg.load.inFlight <= 0 || cfg.load.poison < 0 {
		return fmt.Errorf("-in-flight must be positive and -poison not negative (got %d and %d)", cfg.load.inFlight, cfg.load.poison)
	}
	// The API's throttle would refuse most of a load run: it gets API
	// Gateway's default account-level throttle instead, 10,000 requests per
	// second with a burst of 5,000.
	if !set["rate"] {
		cfg.rate = 10000
	}
	if !set["burst"] {
		cfg.burst = 5000
	}
	if !set["out"] {
		cfg.outDir = "out/load"
	}
	// A load run goes beside a `make run` on the default ports, or another
	// load run: each address not given is a free loopback port.
	for name, addr := range map[string]*string{"api": &cfg.api, "jaeger": &cfg.jaegerUI, "otlp": &cfg.otlp, "goaws": &cfg.goaws, "dynalite": &cfg.dynalite, "xray": &cfg.xrayView} {
		if set[name] {
			continue
		}
		free, err := freeLoopback()
		if err != nil {
			return err
		}
		*addr = free
	}
	return nil
}

// freeLoopback is a loopback address that no one listens on now.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// portsFree checks that no other program holds the stack's fixed ports: a
// Jaeger or collector left running would otherwise take the spans, and the
// readiness checks would ask it instead of the stack's own.
func portsFree(cfg settings) error {
	addrs := map[string]string{"the API": cfg.api, "goaws": cfg.goaws, "dynalite": cfg.dynalite}
	if cfg.jaeger {
		addrs["the X-Ray view"], addrs["the collector"] = cfg.xrayView, cfg.collector
		if cfg.jaegerURL == "" {
			addrs["Jaeger's UI"], addrs["Jaeger's OTLP receiver"] = cfg.jaegerUI, cfg.otlp
		}
	}
	var errs []error
	for what, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			err = fmt.Errorf("%s's address %s is taken (another run, Jaeger or collector?): %w", what, addr, err)
			if strings.HasPrefix(what, "Jaeger") {
				err = fmt.Errorf("%w; to use a Jaeger that is already running, pass -jaeger-url (or set JAEGER_URL) to its query URL", err)
			}
			errs = append(errs, err)
			continue
		}
		_ = ln.Close()
	}
	return errors.Join(errs...)
}
