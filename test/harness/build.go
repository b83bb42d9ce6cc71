package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Collector variants: the awsxray exporter closest to the ADOT Lambda
// layer's, and the newest that composes here (test/collector/go.mod says
// which versions).
const (
	CollectorLayer  = "layer"
	CollectorNewest = "newest"
)

// BuildCollector builds otelcol-xray of variant into out. The first build
// compiles the whole collector (minutes on two cores); later ones come from
// Go's build cache.
func BuildCollector(ctx context.Context, root, variant, out string) error {
	dir := filepath.Join(root, "test", "collector")
	switch variant {
	case CollectorLayer:
	case CollectorNewest:
		dir = filepath.Join(dir, "newest")
	default:
		return fmt.Errorf("collector variant %q: want %q or %q", variant, CollectorLayer, CollectorNewest)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build collector %s: %w\n%s", variant, err, b)
	}
	return nil
}
