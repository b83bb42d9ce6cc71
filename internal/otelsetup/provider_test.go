package otelsetup_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup/otelsetuptest/awstest"
)

func TestSetupReadsStandardVariables(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"console exporter", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, ""},
		{"no exporter", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, ""},
		{"two exporters", map[string]string{"OTEL_TRACES_EXPORTER": "otlp, console"}, ""},
		{"otlp over gRPC", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, grpcWantErr},
		{"gzip, headers, timeout", map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=a%20b, tenant=t1", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2000"}, ""},
		{"bad endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, `OTLP endpoint "localhost:4318/v1/traces": want an http:// or https:// URL`},
		{"bad compression", map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, `OTLP compression "zstd": want gzip or none`},
		{"bad timeout", map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, `OTLP timeout "10s"`},
		{"bad headers", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, `OTEL_EXPORTER_OTLP_HEADERS: "novalue" is not key=value`},
		{"client certificates", map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/ca.pem"}, "OTEL_EXPORTER_OTLP_CERTIFICATE is not supported"},
		{"traces protocol beats general", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "bogus", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, ""},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, `OTEL_TRACES_EXPORTER="zipkin": "zipkin" is not one of otlp, xrayudp, console, none`},
		{"http/json", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, `OTLP protocol "http/json"`},
		{"ratio sampler", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}, ""},
		{"bad ratio", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, `OTEL_TRACES_SAMPLER_ARG="2"`},
		{"unknown sampler", map[string]string{"OTEL_TRACES_SAMPLER": "xray"}, `OTEL_TRACES_SAMPLER="xray"`},
		{"xray propagator only", map[string]string{"OTEL_PROPAGATORS": "xray"}, ""},
		{"unknown propagator", map[string]string{"OTEL_PROPAGATORS": "tracecontext,b3"}, `"b3" is not one of tracecontext, baggage, xray, none`},
		{"disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "zipkin"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tr, err := otelsetup.Setup(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			_ = tr.Shutdown(context.Background())
		})
	}
}

func TestSetupResource(t *testing.T) {
	tests := []struct {
		name        string
		serviceName string
		option      string
		wantService string
	}{
		{"function name by default", "", "", "orders-fn"},
		{"OTEL_SERVICE_NAME wins", "orders", "", "orders"},
		{"WithServiceName wins over both", "orders", "billing", "billing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-fn")
			t.Setenv("AWS_REGION", "eu-west-1")
			t.Setenv("OTEL_SERVICE_NAME", tt.serviceName)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
			var opts []otelsetup.Option
			if tt.option != "" {
				opts = append(opts, otelsetup.WithServiceName(tt.option))
			}
			tr, exp := otelsetuptest.New(t, opts...)
			if tr.ServiceName() != tt.wantService {
				t.Errorf("ServiceName() = %q, want %q", tr.ServiceName(), tt.wantService)
			}
			_, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "s")
			span.End()
			tr.Flush(context.Background())
			res := otelsetuptest.One(t, exp.GetSpans(), "s").Resource
			want := map[string]string{
				"service.name":                tt.wantService,
				"cloud.platform":              "aws_lambda",
				"cloud.provider":              "aws",
				"cloud.region":                "eu-west-1",
				"faas.name":                   "orders-fn",
				"deployment.environment.name": "test",
				"telemetry.sdk.language":      "go",
			}
			for k, v := range want {
				got, _ := res.Set().Value(attribute.Key(k))
				if got.String() != v {
					t.Errorf("resource %s = %q, want %q", k, got.String(), v)
				}
			}
		})
	}
}

func TestSetupSampling(t *testing.T) {
	tests := []struct {
		sampler   string
		parent    string // the invocation's Sampled flag
		wantSpans int
	}{
		{"", "Sampled=1", 1},
		{"", "Sampled=0", 0},
		{"always_on", "Sampled=0", 1},
		{"always_off", "Sampled=1", 0},
		{"parentbased_always_off", "Sampled=1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.sampler+"/"+tt.parent, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", tt.sampler)
			tr, exp := otelsetuptest.New(t)
			header := strings.Replace(ctxHeader, "Sampled=1", tt.parent, 1)
			if _, err := otelsetup.Wrap(tr, okHandler).Invoke(otelsetuptest.InvocationContext("r", header), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if got := len(exp.GetSpans()); got != tt.wantSpans {
				t.Errorf("%d spans exported, want %d", got, tt.wantSpans)
			}
		})
	}
}

func TestSetupInstallsGlobals(t *testing.T) {
	tr, _ := otelsetuptest.New(t)
	if otel.GetTracerProvider() != trace.TracerProvider(tr.TracerProvider()) {
		t.Errorf("global tracer provider is not the one Setup built")
	}
	// The default propagator injects both X-Ray and W3C headers.
	ctx, span := tr.TracerProvider().Tracer("t").Start(context.Background(), "s")
	defer span.End()
	h := http.Header{}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
	if h.Get("X-Amzn-Trace-Id") == "" || h.Get("Traceparent") == "" {
		t.Errorf("injected headers %v, want X-Amzn-Trace-Id and traceparent", h)
	}
}

func TestLinkFromTraceHeader(t *testing.T) {
	tests := []struct {
		header    string
		wantOK    bool
		wantTrace string
		wantSpan  string
	}{
		{"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Parent=6a0a44d5e7c8f0b1;Sampled=1", true, "674a8c005759e988bd862e3fe1be46a9", "6a0a44d5e7c8f0b1"},
		{"", false, "", ""},
		{"Root=1-674a8c00-5759e988bd862e3fe1be46a9;Sampled=1", false, "", ""},
		{"garbage", false, "", ""},
	}
	for _, tt := range tests {
		link, ok := otelsetup.LinkFromTraceHeader(tt.header)
		if ok != tt.wantOK {
			t.Errorf("LinkFromTraceHeader(%q) ok = %v, want %v", tt.header, ok, tt.wantOK)
			continue
		}
		if ok && (link.SpanContext.TraceID().String() != tt.wantTrace || link.SpanContext.SpanID().String() != tt.wantSpan) {
			t.Errorf("LinkFromTraceHeader(%q) = %v/%v", tt.header, link.SpanContext.TraceID(), link.SpanContext.SpanID())
		}
	}
}

// TestDefaultEndpointIsTheCollectorExtension checks that, with no endpoint
// configured, spans go in plain HTTP to localhost:4318, where the ADOT
// layer's extension listens (the Go exporter's own default is TLS).
func TestDefaultEndpointIsTheCollectorExtension(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:4318")
	if err != nil {
		t.Skipf("port 4318 is taken (a collector or Jaeger is running?): %v", err)
	}
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Method + " " + r.URL.Path:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := otelsetup.Setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	seen := captureErrors(t)
	_, span := tr.TracerProvider().Tracer("t").Start(context.Background(), "s")
	span.End()
	tr.Flush(context.Background())
	select {
	case req := <-got:
		if req != "POST /v1/traces" {
			t.Errorf("exporter sent %s, want POST /v1/traces", req)
		}
	default:
		t.Errorf("nothing reached http://localhost:4318; errors: %v", seen.all())
	}
}

// TestSetupDisabledPassesTheTraceOn: with OTEL_SDK_DISABLED nothing is
// recorded, and the AWS calls carry the invocation's trace header unchanged
// (Root, Lambda's Parent, Sampled=1, Lineage), so functions downstream that
// do trace stay in the trace instead of seeing Sampled=0, and Lambda's loop
// detection still counts.
func TestSetupDisabledPassesTheTraceOn(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	exp := tracetest.NewInMemoryExporter()
	tr, err := otelsetup.Setup(context.Background(), otelsetup.WithExporter(exp))
	if err != nil {
		t.Fatal(err)
	}
	srv := awstest.New(t)
	queue := sqs.NewFromConfig(srv.Config(t, tr.AWSConfig))
	h := otelsetup.Wrap(tr, func(ctx context.Context, _ events.SNSEvent) (string, error) {
		_ = otelsetup.Capture(ctx, "step", func(ctx context.Context) error {
			_, err := queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("https://q"), MessageBody: aws.String("hi")})
			return err
		})
		return "done", nil
	})
	if _, err := h.Invoke(otelsetuptest.InvocationContext("r", ctxHeader), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Header.Get("X-Amzn-Trace-Id"); got != ctxHeader {
		t.Errorf("X-Amzn-Trace-Id = %q, want the invocation's header unchanged", got)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported with the SDK disabled", n)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
