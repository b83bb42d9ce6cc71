// Command newest is otelcol-xray built from the collector components nearest
// the ADOT Lambda layer the template deploys (see go.mod). Collectors from
// v0.1xx on need a telemetry factory.
//
// Beside compose's otlp → awsxray components it has what
// collector-xray-otlp.yaml needs, the layer's route to X-Ray's OTLP endpoint:
// the otlphttp exporter and the sigv4auth extension, both of which the ADOT
// Lambda layer ships (https://aws-otel.github.io/docs/getting-started/lambda,
// "ADOT Lambda Layer available components").
package main

import (
	"fmt"
	"os"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/sigv4authextension"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/xray-tracer/xray-tracer/test/collector/compose"
)

func factories() (otelcol.Factories, error) {
	f, err := compose.Factories()
	if err != nil {
		return f, err
	}
	f.Telemetry = otelconftelemetry.NewFactory()
	// compose made the exporter map for this collector alone: add to it.
	otlphttp := otlphttpexporter.NewFactory()
	if _, dup := f.Exporters[otlphttp.Type()]; dup {
		return f, fmt.Errorf("exporters: %s twice", otlphttp.Type())
	}
	f.Exporters[otlphttp.Type()] = otlphttp
	if f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](sigv4authextension.NewFactory()); err != nil {
		return f, fmt.Errorf("extensions: %w", err)
	}
	return f, nil
}

func main() {
	if err := otelcol.NewCommand(compose.Settings(factories)).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "otelcol-xray (newest):", err)
		os.Exit(1)
	}
}
