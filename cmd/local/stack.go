package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/apigw"
	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
	"github.com/xray-tracer/xray-tracer/internal/local/jaegerapi"
	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/local/procs"
	"github.com/xray-tracer/xray-tracer/internal/local/sandbox"
	"github.com/xray-tracer/xray-tracer/internal/local/waterfall"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayapi"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
)

// The pattern's resources, named as the fidelity harness names them, in
// the account and region the Lambda stand-in uses.
const (
	region          = "us-east-1"
	account         = "123456789012"
	tableName       = "Hits"
	queueName       = "hello-queue"
	dlqName         = "hello-dlq"
	fanoutTopic     = "fan-out"
	secondTopic     = "second-topic"
	apiName         = "xray-tracer-api/prod"
	maxReceiveCount = 3
	functionTimeout = 10 * time.Second
)

func topicARN(name string) string { return "arn:aws:sns:" + region + ":" + account + ":" + name }

// fanoutSubscribers are the functions subscribed to the fan-out topic.
var fanoutSubscribers = []string{"dynamo", "http", "sqs", "sns-publish"}

// stack is the running pattern: the emulators and Jaeger as child
// processes, the functions in their sandboxes, and the runner's own
// stand-ins (API Gateway, the Lambda service, the external API).
type stack struct {
	cfg     settings
	say     func(string, ...any)
	log     *slog.Logger
	dir     string // logs and generated config files
	procs   []*procs.Proc
	servers []*http.Server
	spans   *awsSpans
	lambda  *localaws.Lambda
	snsEP   *localaws.SNSEndpoint
	esmStop context.CancelFunc
	esmDone chan struct{}
	mapping *localaws.SQSMapping
	sqs     *sqs.Client       // the runner's own, to the emulator
	queues  map[string]string // URL by name: queueName, dlqName
	ddb     *dynamodb.Client
	jaeger  *jaegerapi.Client // nil when traces do not go to Jaeger
	store   *xrayview.Store   // the X-Ray view's; nil without the collector
	xray    *xrayapi.XRay     // PutTraceSegments, which fills store
	// consoles are the functions' outputs, closed once the functions have
	// stopped: the traces they hold are drawn then.
	consoles []*waterfall.Console
	closers  []io.Closer // files written to until the functions stop

	mu          sync.Mutex
	served      []request // API requests answered
	invocations map[trace.TraceID][]localaws.Invocation
	consumers   map[trace.TraceID]trace.TraceID // producer trace → sqs-subscribe's trace
	// The invocations that carried requests' work (all but SQS batches
	// of records that no request sent, such as -load's poison), for the
	// invocation rate, and when the latest of them ended.
	requestCalls    int
	lastRequestCall time.Time
}

// request is one API request the stand-in answered.
type request struct {
	Method, Path string
	Status       int
	TraceID      trace.TraceID // zero when the request was refused before tracing
	Took         time.Duration
}

// start brings the stack up, in dependency order; on error it stops what
// it started.
func start(ctx context.Context, cfg settings, bins binaries, say func(string, ...any)) (_ *stack, err error) {
	s := &stack{
		cfg:         cfg,
		say:         say,
		dir:         cfg.outDir,
		invocations: map[trace.TraceID][]localaws.Invocation{},
		consumers:   map[trace.TraceID]trace.TraceID{},
	}
	defer func() {
		if err != nil {
			s.stop(context.Background())
		}
	}()
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(s.dir, "runner.log"))
	if err != nil {
		return nil, err
	}
	s.log = slog.New(slog.NewTextHandler(io.MultiWriter(logFile, warnings{say}), nil))

	// Jaeger and the collector first: every span from now on goes there.
	var segments sdktrace.SpanProcessor
	if cfg.jaeger {
		if err := s.startJaeger(ctx, bins.jaeger); err != nil {
			return nil, err
		}
		if err := s.startXRay(ctx, bins.root, bins.collector); err != nil {
			return nil, err
		}
		segments = newAWSSegments(s.store, cfg.api)
	}
	if s.spans, err = newAWSSpans(ctx, cfg, segments); err != nil {
		return nil, err
	}

	say("starting DynamoDB (dynalite) on %s", cfg.dynalite)
	if err := s.startProc(ctx, emulators.Dynalite(bins.dynalite, cfg.dynalite)); err != nil {
		return nil, err
	}
	if err := s.createTable(ctx); err != nil {
		return nil, err
	}

	// The runner's endpoints come before goaws: its config names them.
	keeper := localaws.NewTraceKeeper(&url.URL{Scheme: "http", Host: cfg.goaws}, s.spans.tracer)
	keeperURL, err := s.serve(keeper)
	if err != nil {
		return nil, err
	}
	targetURL, err := s.serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	}))
	if err != nil {
		return nil, err
	}
	snsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	snsURL := "http://" + snsLn.Addr().String()

	say("starting SNS and SQS (goaws) on %s", cfg.goaws)
	goawsConfig := filepath.Join(s.dir, "goaws.yaml")
	if err := writeGoawsConfig(goawsConfig, cfg.goaws, snsURL, cfg.visibility); err != nil {
		_ = snsLn.Close()
		return nil, err
	}
	if err := s.startProc(ctx, emulators.Goaws(bins.goaws, goawsConfig, cfg.goaws)); err != nil {
		_ = snsLn.Close()
		return nil, err
	}
	awsCfg := s.awsConfig()
	sqsClient := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String("http://" + cfg.goaws) })
	s.sqs, s.queues = sqsClient, map[string]string{}
	for _, name := range []string{queueName, dlqName} {
		q, err := sqsClient.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			_ = snsLn.Close()
			return nil, fmt.Errorf("goaws: the queue %s: %w", name, err)
		}
		s.queues[name] = aws.ToString(q.QueueUrl)
	}
	queueURL := s.queues[queueName]

	say("starting the functions (%d sandboxes each): %s", cfg.concurrency, strings.Join(pattern.Functions, ", "))
	fnOut, err := s.functionOutput()
	if err != nil {
		_ = snsLn.Close()
		return nil, err
	}
	var fns []sandbox.Function
	for _, name := range pattern.Functions {
		env := functionEnv(name)
		env["AWS_ENDPOINT_URL_SNS"] = keeperURL
		env["AWS_ENDPOINT_URL_SQS"] = keeperURL
		env["AWS_ENDPOINT_URL_DYNAMODB"] = "http://" + cfg.dynalite
		env["TABLE_NAME"] = tableName
		env["QUEUE_URL"] = queueURL
		env["TOPIC_ARN"] = topicARN(secondTopic)
		env["TARGET_URL"] = targetURL + "/status"
		if cfg.jaeger {
			// To the collector, as a function in Lambda exports to the
			// layer's extension; the runner's own spans go to Jaeger.
			env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + cfg.collector
		}
		// Every function's output goes through a Console, which draws the
		// spans of OTEL_TRACES_EXPORTER=console (if any) as waterfalls.
		out := waterfall.NewConsole(prefixed(fnOut, name))
		s.consoles = append(s.consoles, out)
		timeout := functionTimeout
		if name == "sqs-subscribe" {
			timeout = cfg.consumer
		}
		fns = append(fns, sandbox.Function{
			Name: name, Bootstrap: bins.functions[name], Env: env, Region: region,
			MemoryMB: 256, Timeout: timeout, Stdout: out, Stderr: out,
		})
	}
	if s.lambda, err = localaws.StartLambda(ctx, fns, cfg.concurrency, s.spans.tracer); err != nil {
		_ = snsLn.Close()
		return nil, err
	}
	s.lambda.Observe = s.observe

	var subs []localaws.Subscription
	for _, fn := range fanoutSubscribers {
		subs = append(subs, localaws.Subscription{TopicARN: topicARN(fanoutTopic), Function: fn})
	}
	subs = append(subs, localaws.Subscription{TopicARN: topicARN(secondTopic), Function: "sns-subscribe"})
	s.snsEP = localaws.NewSNSEndpoint(s.lambda, subs, s.log)
	s.serveOn(snsLn, s.snsEP)

	esmCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.esmStop, s.esmDone = cancel, make(chan struct{})
	s.mapping = &localaws.SQSMapping{
		SQS: sqsClient, QueueURL: queueURL, QueueARN: "arn:aws:sqs:" + region + ":" + account + ":" + queueName,
		Region: region, Function: "sqs-subscribe", Lambda: s.lambda, Keeper: keeper,
		Concurrency: cfg.concurrency, Log: s.log,
	}
	go func() {
		defer close(s.esmDone)
		s.mapping.Run(esmCtx)
	}()

	say("starting the API (API Gateway stand-in) on %s", cfg.api)
	api, err := s.spans.tracing(apiName)
	if err != nil {
		return nil, err
	}
	apiAWS, err := api.AWSConfig(ctx, localAWS()...)
	if err != nil {
		return nil, err
	}
	h := &apigw.Handler{
		SNS:      sns.NewFromConfig(apiAWS, func(o *sns.Options) { o.BaseEndpoint = aws.String(keeperURL) }),
		TopicARN: topicARN(fanoutTopic),
		Name:     apiName,
		Tracer:   api.TracerProvider().Tracer("github.com/xray-tracer/xray-tracer/internal/local/apigw"),
		// API Gateway's default account-level throttle is 10,000 requests
		// per second with a burst of 5,000; a laptop gets less.
		Rate:  cfg.rate,
		Burst: cfg.burst,
	}
	apiLn, err := net.Listen("tcp", cfg.api)
	if err != nil {
		return nil, fmt.Errorf("the API's address %s: %w", cfg.api, err)
	}
	s.serveOn(apiLn, s.logRequests(h))
	return s, nil
}

// stop stops everything, the last started first, and waits for each.
func (s *stack) stop(ctx context.Context) {
	if len(s.servers) > 0 {
		// The API first: no new work.
		_ = s.servers[len(s.servers)-1].Close()
	}
	if s.esmStop != nil {
		s.esmStop()
		<-s.esmDone
	}
	if s.snsEP != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.snsEP.Close(ctx); err != nil {
			s.log.Warn("stop", "error", err)
		}
		cancel()
	}
	if s.lambda != nil {
		s.lambda.Close()
	}
	for _, c := range s.consoles {
		_ = c.Close()
	}
	for _, c := range s.closers {
		_ = c.Close()
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	if s.spans != nil {
		s.spans.shutdown(ctx)
	}

	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].Stop()
	}
	// After the collector: what it flushes as it stops still arrives.
	if s.xray != nil {
		_ = s.xray.Close()
	}
}

// pids are the stack's child processes: emulators, Jaeger, functions.
func (s *stack) pids() []int {
	var out []int
	for _, p := range s.procs {
		out = append(out, p.PID())
	}
	if s.lambda != nil {
		out = append(out, s.lambda.PIDs()...)
	}
	return out
}

// exited reports a child process that has died, if any.
func (s *stack) exited() <-chan error {
	ch := make(chan error, 1)
	for _, p := range s.procs {
		go func() {
			<-p.Exited()
			select {
			case ch <- p.Err():
			default:
			}
		}()
	}
	return ch
}

// writePIDs lists the stack's child processes in pids, one per line, so
// that a test (or a person) can check that none is left after a stop.
func (s *stack) writePIDs() error {
	var b strings.Builder
	for _, pid := range s.pids() {
		fmt.Fprintln(&b, pid)
	}
	return os.WriteFile(filepath.Join(s.dir, "pids"), []byte(b.String()), 0o644)
}

func (s *stack) startProc(ctx context.Context, spec procs.Spec) error {
	f, err := os.Create(filepath.Join(s.dir, spec.Name+".log"))
	if err != nil {
		return err
	}
	spec.Output = f
	p, err := procs.Start(ctx, spec)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("%w\n(its whole log: %s)", err, f.Name())
	}
	s.procs = append(s.procs, p)
	return nil
}

// serve serves h on a random loopback port and returns its URL.
func (s *stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.serveOn(ln, h)
	return "http://" + ln.Addr().String(), nil
}

func (s *stack) serveOn(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
}
