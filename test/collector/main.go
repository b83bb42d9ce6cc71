// Command otelcol-xray is the collector the fidelity tests run with the
// repository's collector.yaml, built from v0.120.0 components: the variant
// nearest older ADOT Lambda layers such as v0.43.0 (collector v0.117.0; see
// go.mod). newest/ builds the variant nearest the layer the template deploys.
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
