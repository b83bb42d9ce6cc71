package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Functions are the pattern's Lambda functions, as named under cmd/.
var Functions = []string{"dynamo", "http", "sqs", "sqs-subscribe", "sns-publish", "sns-subscribe"}

// Collector variants: the awsxray exporter closest to the ADOT Lambda
// layer's, and the newest that composes here (test/collector/go.mod says
// which versions).
const (
	CollectorLayer  = "layer"
	CollectorNewest = "newest"
)

// RepoRoot returns the repository's root: the nearest directory above the
// working directory that holds collector.yaml.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "collector.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no collector.yaml above the working directory: run from inside the repository")
		}
		dir = parent
	}
}

// BuildFunctions builds each function as Lambda runs it (a static binary
// named bootstrap, -tags lambda.norpc, stripped) into dir/<name>/bootstrap,
// and returns the paths by name. They are built for this machine, so the
// harness can run them; AWS runs linux/arm64 builds of the same code.
func BuildFunctions(ctx context.Context, root, dir string, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		names = Functions
	}
	out := map[string]string{}
	for _, name := range names {
		bin := filepath.Join(dir, name, "bootstrap")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/"+name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", name, err, b)
		}
		out[name] = bin
	}
	return out, nil
}

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
