package fidelity

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
	"github.com/xray-tracer/xray-tracer/test/harness"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from what the tests see")

// TestServiceMap compares the service map of three requests with the golden
// file, so that any change in what X-Ray would draw shows in review. Both
// exporter versions must draw the same map.
func TestServiceMap(t *testing.T) {
	golden := filepath.Join("testdata", "servicemap.golden")
	for _, p := range paths() {
		t.Run(p.String(), func(t *testing.T) {
			sc := runScenario(t, p, harness.PatternConfig{HTTPFailureRate: 0}, "/", "/hello", "/a/b")
			got := xrayview.BuildServiceMap(sc.docs).Text()
			if *update && p == paths()[0] {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("service map changed:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}
