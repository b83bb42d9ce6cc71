package benchmd

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const loadV1 = "<!-- begin section load -->\n## Load\n\nv1\n<!-- end section load -->"

func TestSplice(t *testing.T) {
	tests := []struct {
		name, doc, body, want string
	}{
		{"empty document", "", "## Load\n\nv2\n", "<!-- begin section load -->\n## Load\n\nv2\n<!-- end section load -->\n"},
		{"appended after the rest", "# Benchmarks\n\ntext\n", "v2", "# Benchmarks\n\ntext\n\n<!-- begin section load -->\nv2\n<!-- end section load -->\n"},
		{"replaced in place", "# B\n\n" + loadV1 + "\n\n## After\n", "v2", "# B\n\n<!-- begin section load -->\nv2\n<!-- end section load -->\n\n## After\n"},
		{"another section left alone", "<!-- begin section faults -->\nf\n<!-- end section faults -->\n", "v2",
			"<!-- begin section faults -->\nf\n<!-- end section faults -->\n\n<!-- begin section load -->\nv2\n<!-- end section load -->\n"},
		{"an unclosed marker is text", "<!-- begin section load -->\nhalf\n", "v2",
			"<!-- begin section load -->\nhalf\n\n<!-- begin section load -->\nv2\n<!-- end section load -->\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Splice(tt.doc, "load", tt.body); got != tt.want {
				t.Errorf("Splice:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestKeep: a run that rewrites the whole file (make bench) keeps the
// sections others own, unless it writes them itself.
func TestKeep(t *testing.T) {
	faults := "<!-- begin section faults -->\nF\n<!-- end section faults -->"
	tests := []struct {
		name, old, fresh, want string
	}{
		{"no old file", "", "# Benchmarks\n", "# Benchmarks\n"},
		{"old without sections", "# Old\n", "# Benchmarks\n", "# Benchmarks\n"},
		{"a section kept", "# Old\n\n" + loadV1 + "\n", "# Benchmarks\n", "# Benchmarks\n\n" + loadV1 + "\n"},
		{"two kept in order", loadV1 + "\n" + faults + "\n", "# B\n", "# B\n\n" + loadV1 + "\n\n" + faults + "\n"},
		{"fresh has its own", loadV1 + "\n" + faults, "# B\n\n" + faults + "\n", "# B\n\n" + faults + "\n\n" + loadV1 + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Keep(tt.old, tt.fresh); got != tt.want {
				t.Errorf("Keep:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	for _, body := range []string{"v1", "v2"} {
		if err := WriteSection(path, "load", body); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<!-- begin section load -->\nv2\n<!-- end section load -->\n"; string(b) != want {
		t.Errorf("file = %q, want %q", b, want)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	tests := []struct {
		q    float64
		in   []time.Duration
		want time.Duration
	}{
		{0.5, ds, 50}, {0.99, ds, 99}, {1, ds, 100}, {0, ds, 1}, {0.5, nil, 0}, {0.99, []time.Duration{7}, 7},
	}
	for _, tt := range tests {
		if got := Percentile(tt.in, tt.q); got != tt.want {
			t.Errorf("Percentile(%d values, %v) = %v, want %v", len(tt.in), tt.q, got, tt.want)
		}
	}
}
