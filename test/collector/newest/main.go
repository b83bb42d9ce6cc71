// Command newest is otelcol-xray built from the newest collector components
// that compose here (see go.mod). Collectors from v0.1xx on need a telemetry
// factory, which the layer's version does not have.
package main

import (
	"fmt"
	"os"

	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/xray-tracer/xray-tracer/test/collector/compose"
)

func factories() (otelcol.Factories, error) {
	f, err := compose.Factories()
	f.Telemetry = otelconftelemetry.NewFactory()
	return f, err
}

func main() {
	if err := otelcol.NewCommand(compose.Settings(factories)).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "otelcol-xray (newest):", err)
		os.Exit(1)
	}
}
