// Command otelcol-xray is the collector the fidelity tests run with the
// repository's collector.yaml, built from the awsxray exporter closest to the
// one in the newest ADOT Lambda layer that resolves here (see go.mod).
// newest/ builds the same collector from the newest components that compose
// here.
package main

import (
	"fmt"
	"os"

	"go.opentelemetry.io/collector/otelcol"

	"github.com/xray-tracer/xray-tracer/test/collector/compose"
)

func main() {
	if err := otelcol.NewCommand(compose.Settings(compose.Factories)).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "otelcol-xray:", err)
		os.Exit(1)
	}
}
