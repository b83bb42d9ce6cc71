package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
	"github.com/xray-tracer/xray-tracer/internal/local/procs"
)

// deliveriesQueue receives what SNS delivers from second-topic: the harness
// reads sns-publish's notification there, as SNS would hand it to
// sns-subscribe.
const deliveriesQueue = "second-topic-deliveries"

// backends are the real emulators the functions call, each on a free
// loopback port: dynalite for DynamoDB and goaws for SNS and SQS, behind
// the trace keeper that keeps the trace headers goaws drops
// (internal/local/localaws).
type backends struct {
	procs   []*procs.Proc
	dir     string
	keeper  *localaws.TraceKeeper
	server  *http.Server
	topics  *tracetest.InMemoryExporter // the keeper's topic spans
	tp      *sdktrace.TracerProvider
	sqs     *sqs.Client
	env     map[string]string // the functions' endpoints
	queue   string            // hello-queue's URL
	deliver string            // deliveriesQueue's URL
}

func startBackends(ctx context.Context, out io.Writer) (_ *backends, err error) {
	b := &backends{topics: tracetest.NewInMemoryExporter()}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	root, err := pattern.RepoRoot()
	if err != nil {
		return nil, err
	}
	if b.dir, err = os.MkdirTemp("", "harness-backends-"); err != nil {
		return nil, err
	}
	goaws := filepath.Join(root, "bin", "goaws")
	if err := emulators.BuildGoaws(ctx, root, goaws); err != nil {
		return nil, err
	}
	cli, err := emulators.InstallDynalite(ctx, root, nil)
	if err != nil {
		return nil, err
	}
	dynAddr, goawsAddr := freeAddr(), freeAddr()
	if dynAddr == "" || goawsAddr == "" {
		return nil, errors.New("no free loopback port")
	}

	spec := emulators.Dynalite(cli, dynAddr)
	spec.Output = out
	p, err := procs.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, p)
	cfg := aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider("harness", "harness", "")}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String("http://" + dynAddr) })
	if err := emulators.CreateHitsTable(ctx, db, TableName); err != nil {
		return nil, err
	}

	b.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(b.topics))
	b.keeper = localaws.NewTraceKeeper(&url.URL{Scheme: "http", Host: goawsAddr}, func(string) trace.Tracer { return b.tp.Tracer("harness") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.server = &http.Server{Handler: b.keeper, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.server.Serve(ln) }()
	keeperURL := "http://" + ln.Addr().String()

	config := filepath.Join(b.dir, "goaws.yaml")
	_, port, _ := net.SplitHostPort(goawsAddr)
	if err := os.WriteFile(config, []byte(goawsConfig(port)), 0o644); err != nil {
		return nil, err
	}
	spec = emulators.Goaws(goaws, config, goawsAddr)
	spec.Output = out
	if p, err = procs.Start(ctx, spec); err != nil {
		return nil, err
	}
	b.procs = append(b.procs, p)
	b.sqs = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String("http://" + goawsAddr) })
	for name, dst := range map[string]*string{QueueName: &b.queue, deliveriesQueue: &b.deliver} {
		q, err := b.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("goaws: queue %s: %w", name, err)
		}
		*dst = aws.ToString(q.QueueUrl)
	}
	b.env = map[string]string{
		"AWS_ENDPOINT_URL_SNS":      keeperURL,
		"AWS_ENDPOINT_URL_SQS":      keeperURL,
		"AWS_ENDPOINT_URL_DYNAMODB": "http://" + dynAddr,
		"QUEUE_URL":                 b.queue,
	}
	return b, nil
}

// goawsConfig is the harness's goaws: the pattern's queue and topics in the
// harness's region and account; second-topic delivers to deliveriesQueue.
func goawsConfig(port string) string {
	return strings.Join([]string{
		"Local:",
		"  Host: localhost",
		"  Port: " + port,
		"  Region: " + Region,
		`  AccountId: "` + Account + `"`,
		"  LogToFile: false",
		"  QueueAttributeDefaults:",
		"    VisibilityTimeout: 30",
		"    ReceiveMessageWaitTimeSeconds: 0",
		"  Queues:",
		"    - Name: " + QueueName,
		"    - Name: " + deliveriesQueue,
		"  Topics:",
		"    - Name: " + FanoutTopic,
		"    - Name: " + SecondTopic,
		"      Subscriptions:",
		"        - QueueName: " + deliveriesQueue,
		"          Raw: false",
		"",
	}, "\n")
}

// receive takes one message from the queue at url, waiting up to 10 s, and
// deletes it.
func (b *backends) receive(ctx context.Context, url string) (sqstypes.Message, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 1, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return sqstypes.Message{}, fmt.Errorf("receive from %s: %w", url, err)
		}
		if len(out.Messages) == 0 {
			continue
		}
		m := out.Messages[0]
		if _, err := b.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			return m, fmt.Errorf("delete from %s: %w", url, err)
		}
		return m, nil
	}
	return sqstypes.Message{}, fmt.Errorf("no message in %s within 10 s", url)
}

// topicSpan is the keeper's span of the Publish call whose span id is id.
func (b *backends) topicSpan(id trace.SpanID) (tracetest.SpanStub, bool) {
	for _, s := range b.topics.GetSpans() {
		if s.SpanContext.SpanID() == id {
			return s, true
		}
	}
	return tracetest.SpanStub{}, false
}

func (b *backends) close() {
	if b.server != nil {
		_ = b.server.Close()
	}
	if b.tp != nil {
		_ = b.tp.Shutdown(context.Background())
	}
	for i := len(b.procs) - 1; i >= 0; i-- {
		b.procs[i].Stop()
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// freeAddr is a loopback address nothing listens on now, or "".
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	defer ln.Close()
	return ln.Addr().String()
}
