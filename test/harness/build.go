package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Collector variants (test/collector/go.mod and newest/go.mod say which
// versions):
//   - CollectorLayer is nearest the ADOT Lambda layer the template deploys
//     (v0.49.0, collector v0.156.0): components v0.159.0, the nearest that
//     compose here (v0.156.0's internal/aws/xray is refused), whose awsxray
//     translator is the same code as v0.156.0's. It also has the otlp_http
//     exporter and the sigv4auth extension, for collector-xray-otlp.yaml.
//     Built from test/collector/newest.
//   - CollectorOlder is nearest the older layers users may still run, such
//     as ADOT Lambda v0.43.0 (collector v0.117.0), the template's default
//     before v0.49.0: v0.120.0, the oldest that resolves here. Built from
//     test/collector.
const (
	CollectorLayer = "layer"
	CollectorOlder = "older"
)

// BuildCollector builds otelcol-xray of variant into out. The first build
// compiles the whole collector (minutes on two cores); later ones come from
// Go's build cache.
func BuildCollector(ctx context.Context, root, variant, out string) error {
	dir := filepath.Join(root, "test", "collector")
	switch variant {
	case CollectorLayer:
		dir = filepath.Join(dir, "newest")
	case CollectorOlder:
	default:
		return fmt.Errorf("collector variant %q: want %q or %q", variant, CollectorLayer, CollectorOlder)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build collector %s: %w\n%s", variant, err, b)
	}
	return nil
}
