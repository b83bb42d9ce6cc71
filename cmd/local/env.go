package main

import (
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// awsConfig is the runner's own AWS config for the emulators: static
// credentials (emulators take any), no tracing.
func (s *stack) awsConfig() aws.Config {
	return aws.Config{
		Region:      region,
		Credentials: emulatorCredentials(),
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	}
}

// localAWS are the load options of the API's traced AWS config.
func localAWS() []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithCredentialsProvider(emulatorCredentials()),
	}
}

// emulatorCredentials are static: the emulators take any.
func emulatorCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("local", "local", "")
}

// functionEnv is what a function gets from the runner's environment: the
// OpenTelemetry variables (OTLP to the local Jaeger, see run) and
// FAILURE_RATE.
func functionEnv(name string) map[string]string {
	env := map[string]string{"OTEL_SERVICE_NAME": name}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OTEL_") || k == "FAILURE_RATE" {
			env[k] = v
		}
	}
	return env
}
