// Package benchmd shares BENCHMARKS.md between the commands that write it.
// `make bench` (bench/cmd/lambdabench) rewrites the whole file; other runs,
// such as `make load` (cmd/local -load), own one section each, between two
// marker lines:
//
//	<!-- begin section load -->
//	...
//	<!-- end section load -->
//
// A section's owner replaces its text with [WriteSection]; lambdabench keeps
// every marked section of the old file in the new one with [Keep]. So each
// run's figures survive the others' runs, and none needs to know what the
// others write.
package benchmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

func begin(name string) string { return "<!-- begin section " + name + " -->" }
func end(name string) string   { return "<!-- end section " + name + " -->" }

// section is one marked section of a document: its name, and where its
// text runs (the markers included).
type section struct {
	name       string
	start, end int
}

// sections finds the marked sections of doc, in order. A begin marker
// without its end marker is not a section.
func sections(doc string) []section {
	const prefix = "<!-- begin section "
	var out []section
	for i := 0; ; {
		j := strings.Index(doc[i:], prefix)
		if j < 0 {
			return out
		}
		start := i + j
		name, _, ok := strings.Cut(doc[start+len(prefix):], " -->")
		if !ok || strings.ContainsAny(name, " \n") {
			i = start + len(prefix)
			continue
		}
		k := strings.Index(doc[start:], end(name))
		if k < 0 {
			i = start + len(prefix)
			continue
		}
		stop := start + k + len(end(name))
		out = append(out, section{name: name, start: start, end: stop})
		i = stop
	}
}

// Splice puts body into doc as the section name: in place of that section
// if doc has it, else at the end after a blank line.
func Splice(doc, name, body string) string {
	block := begin(name) + "\n" + strings.TrimRight(body, "\n") + "\n" + end(name)
	for _, s := range sections(doc) {
		if s.name == name {
			return doc[:s.start] + block + doc[s.end:]
		}
	}
	if doc != "" {
		doc = strings.TrimRight(doc, "\n") + "\n\n"
	}
	return doc + block + "\n"
}

// Keep returns fresh, a document just written whole, with every marked
// section of old that fresh does not have appended in old's order.
func Keep(old, fresh string) string {
	have := sections(fresh)
	for _, s := range sections(old) {
		if slices.ContainsFunc(have, func(h section) bool { return h.name == s.name }) {
			continue
		}
		fresh = strings.TrimRight(fresh, "\n") + "\n\n" + old[s.start:s.end] + "\n"
	}
	return fresh
}

// WriteSection rewrites the section name of the file at path (which may not
// exist yet) with body, leaving the rest of the file as it is.
func WriteSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(Splice(string(old), name, body)), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Machine describes this machine for a report: OS, architecture, cores and
// CPU model.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d cores (%s)", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model)
}

// LoadAverage is the system's load average over 1, 5 and 15 minutes as
// /proc/loadavg gives it, or "unknown" elsewhere: how busy the machine was
// beside the run being measured.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// Percentile is the q-quantile (0 ≤ q ≤ 1) of ds, by the nearest rank; 0
// for none.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s)) + 0.5)
	return s[min(max(i-1, 0), len(s)-1)]
}
