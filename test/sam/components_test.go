package sam

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
)

// layerComponents are the collector components the ADOT Lambda layer ships,
// by kind, as the collector's config names their types. Source: the table
// "ADOT Lambda Layer available components" of aws-observability/aws-otel-lambda's
// README (https://github.com/aws-observability/aws-otel-lambda#adot-lambda-layer-available-components),
// which aws-otel.github.io's lambda-custom-configuration page points to:
// receiver otlpreceiver; exporters awsemfexporter, awsxrayexporter,
// prometheusremotewriteexporter, loggingexporter (now debug), otlpexporter,
// otlphttpexporter; extension sigv4authextension; no processors, no
// connectors. The otlp and otlphttp exporters' types are otlp_grpc and
// otlp_http since collector v0.144.0, which keeps the old names as
// deprecated aliases (open-telemetry/opentelemetry-collector pull requests
// 14397 and 14403); the layer's v0.156.0 knows both.
var layerComponents = map[string][]string{
	"receivers":  {"otlp"},
	"processors": nil,
	"exporters":  {"awsemf", "awsxray", "prometheusremotewrite", "debug", "otlp", "otlp_grpc", "otlphttp", "otlp_http"},
	"extensions": {"sigv4auth"},
	"connectors": nil,
}

// TestCollectorConfigsUseLayerComponents checks that every component a
// shipped collector config names, in its definitions and in its service
// section, is one the layer has: a config naming another would make the
// layer's collector fail at start, and the function lose its traces.
func TestCollectorConfigsUseLayerComponents(t *testing.T) {
	root, err := pattern.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for export, file := range collectorConfigs {
		t.Run(export, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Components map[string]map[string]any `yaml:",inline"`
				Service    struct {
					Extensions []string `yaml:"extensions"`
					Pipelines  map[string]struct {
						Receivers  []string `yaml:"receivers"`
						Processors []string `yaml:"processors"`
						Exporters  []string `yaml:"exporters"`
					} `yaml:"pipelines"`
				} `yaml:"service"`
			}
			if err := yaml.Unmarshal(data, &cfg); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			named := map[string][]string{} // kind → component IDs
			for kind, defs := range cfg.Components {
				if _, known := layerComponents[kind]; !known {
					t.Errorf("%s: section %q is not a component kind the layer has", file, kind)
					continue
				}
				for id := range defs {
					named[kind] = append(named[kind], id)
				}
			}
			named["extensions"] = append(named["extensions"], cfg.Service.Extensions...)
			for _, p := range cfg.Service.Pipelines {
				named["receivers"] = append(named["receivers"], p.Receivers...)
				named["processors"] = append(named["processors"], p.Processors...)
				named["exporters"] = append(named["exporters"], p.Exporters...)
			}
			if len(named["receivers"]) == 0 || len(named["exporters"]) == 0 {
				t.Fatalf("%s names no receiver or no exporter: the parse is broken", file)
			}
			for kind, ids := range named {
				for _, id := range ids {
					typ, _, _ := strings.Cut(id, "/") // type[/name]
					if !slices.Contains(layerComponents[kind], typ) {
						t.Errorf("%s: %s %q is not among the layer's %s %v", file, strings.TrimSuffix(kind, "s"), id, kind, layerComponents[kind])
					}
				}
			}
		})
	}
}
