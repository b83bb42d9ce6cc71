package local

import (
	"fmt"
	"slices"
	"testing"

	"github.com/xray-tracer/xray-tracer/internal/local/jaegerapi"
	"github.com/xray-tracer/xray-tracer/test/harness"
)

// localSecrets are what no span of the local run may hold: the credentials
// the functions sign their AWS calls with, which cmd/local leaves to the
// Runtime API stand-in's defaults (internal/local/sandbox, Lambda.environ:
// the runner sets none of its own), and the bodies of the messages the
// test's requests set off, which may appear only in the pattern's
// annotations (harness.BodyKeys).
var localSecrets = harness.Secrets{
	Values: []string{"AKIASANDBOXTEST00000", "sandbox-test-secret-access-key", "sandbox-test-session-token"},
	Bodies: []string{"/orders/42", "/a/b/c"},
}

// apiService is the API Gateway stand-in's service: its spans record the
// request, path included, as API Gateway's own segment does.
const apiService = "xray-tracer-api/prod"

// checkNoSecrets inspects every attribute, event and status of every span of
// traces, as Jaeger holds them (harness.Secrets says what it looks for).
func checkNoSecrets(t *testing.T, traces []jaegerapi.Trace) {
	t.Helper()
	if len(traces) == 0 {
		t.Fatal("no traces to inspect")
	}
	for _, tr := range traces {
		for _, s := range tr.Spans {
			where := fmt.Sprintf("trace %s, %s span %q", tr.ID, s.Service, s.Name)
			var found []string
			check := func(field string, body bool, text string) {
				found = append(found, localSecrets.Check(where, field, body, text)...)
			}
			check("name", false, s.Name)
			check("status", false, s.Message)
			for _, a := range s.Attributes {
				check(string(a.Key)+" (a key)", false, string(a.Key))
				check(string(a.Key), s.Service == apiService || slices.Contains(harness.BodyKeys, string(a.Key)), a.Value.String())
			}
			for _, e := range s.Events {
				check("event "+e.Name, false, e.Name)
				for _, a := range e.Attributes {
					check("event "+e.Name+" "+string(a.Key), false, a.Value.String())
				}
			}
			for _, f := range found {
				t.Error(f)
			}
		}
	}
}
