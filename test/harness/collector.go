package harness

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The collector's receivers, as collector.yaml sets them: the ports the ADOT
// layer's extension listens on, which the functions reach by default.
const (
	OTLPHTTPAddr = "localhost:4318"
	OTLPGRPCAddr = "localhost:4317"
)

// Collector is a running otelcol-xray.
type Collector struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

// Credentials are what the collector signs with, as the function's role
// gives them in Lambda; the X-Ray OTLP stand-in knows them.
var Credentials = aws.Credentials{
	AccessKeyID:     "AKIDHARNESS",
	SecretAccessKey: "harness-secret",
	SessionToken:    "harness-token",
}

// CollectorConfig says how to run the collector.
type CollectorConfig struct {
	Binary string // otelcol-xray
	Config string // the repository's collector.yaml or collector-xray-otlp.yaml
	// XRayEndpoint and Region replace the awsxray exporter's (collector.yaml):
	// in AWS it calls X-Ray in the function's region; here, the stand-in.
	// Region is also the collector's AWS_REGION.
	XRayEndpoint string
	Region       string
	// OTLPEndpoint replaces the otlp_http exporter's traces_endpoint
	// (collector-xray-otlp.yaml): X-Ray's OTLP endpoint in AWS, the
	// XRayOTLP stand-in here. With it set, the awsxray overrides are left out.
	OTLPEndpoint string
	// Overrides are more settings in the collector's key::key: value form,
	// e.g. "extensions::sigv4auth::region: us-east-1".
	Overrides []string
}

// collectorArgs are the config with only the exporter's endpoint and region
// overridden, through the collector's own config merging.
func (c CollectorConfig) args(command string) []string {
	args := []string{"--config=file:" + c.Config}
	if c.OTLPEndpoint != "" {
		args = append(args, "--config=yaml:exporters::otlp_http::traces_endpoint: "+c.OTLPEndpoint)
	} else {
		if c.XRayEndpoint != "" {
			args = append(args, "--config=yaml:exporters::awsxray::endpoint: "+c.XRayEndpoint)
		}
		if c.Region != "" {
			args = append(args, "--config=yaml:exporters::awsxray::region: "+c.Region)
		}
	}
	for _, o := range c.Overrides {
		args = append(args, "--config=yaml:"+o)
	}
	if command != "" {
		args = append([]string{command}, args...)
	}
	return args
}

// env is the collector's environment: the credentials it signs with, as the
// function's role gives them in Lambda, and no instance metadata service to
// ask for a region.
func (c CollectorConfig) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"AWS_ACCESS_KEY_ID=" + Credentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + Credentials.SessionToken,
		"AWS_REGION=" + c.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// ValidateCollectorConfig runs the collector's own validate command on the
// configuration.
func ValidateCollectorConfig(ctx context.Context, c CollectorConfig) error {
	cmd := exec.CommandContext(ctx, c.Binary, c.args("validate")...)
	cmd.Env = c.env()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("validate %s: %w\n%s", c.Config, err, b)
	}
	return nil
}

// StartCollector starts the collector and returns once its OTLP/HTTP
// receiver accepts connections.
func StartCollector(ctx context.Context, c CollectorConfig) (*Collector, error) {
	if conn, err := net.DialTimeout("tcp", OTLPHTTPAddr, 200*time.Millisecond); err == nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%s is already in use (another collector or a Jaeger?): the functions export there", OTLPHTTPAddr)
	}
	col := &Collector{logs: &syncBuffer{}, done: make(chan error, 1)}
	col.cmd = exec.Command(c.Binary, c.args("")...)
	col.cmd.Env = c.env()
	col.cmd.Stdout = col.logs
	col.cmd.Stderr = col.logs
	if err := col.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start collector: %w", err)
	}
	go func() { col.done <- col.cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", OTLPHTTPAddr, 200*time.Millisecond); err == nil {
			_ = conn.Close()
			return col, nil
		}
		select {
		case err := <-col.done:
			return nil, fmt.Errorf("collector exited before it listened: %v\n%s", err, col.Logs())
		case <-ctx.Done():
			_ = col.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = col.Close()
			return nil, fmt.Errorf("collector did not listen on %s within 30 s\n%s", OTLPHTTPAddr, col.Logs())
		}
	}
}

// Logs returns what the collector has printed.
func (c *Collector) Logs() string { return c.logs.String() }

// Close stops the collector (SIGTERM, then SIGKILL after 5 s).
func (c *Collector) Close() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for the writes of a child process and
// concurrent reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
