package otelsetuptest

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"go.opentelemetry.io/otel/codes"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SampleEvents returns every sample event this package holds and every one
// aws-lambda-go ships in its events/testdata (events of all the services
// that invoke functions, as AWS sends them), by file name. A function is
// given an event of another service by mistake often enough (a wrong
// trigger, a test event from the console) that its handler must answer each
// of them with a result or an error, never a panic. aws-lambda-go's events
// are read where the go command keeps the module, so none is copied here;
// without the go command only this package's events are returned.
func SampleEvents(t testing.TB) map[string][]byte {
	t.Helper()
	events := map[string][]byte{}
	err := fs.WalkDir(sampleEvents, "testdata/events", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := sampleEvents.ReadFile(path)
		events[d.Name()] = b
		return err
	})
	if err != nil {
		t.Fatalf("sample events: %v", err)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Logf("aws-lambda-go's sample events are not available (go list: %v); using this package's only", err)
		return events
	}
	files, _ := filepath.Glob(filepath.Join(dir, "events", "testdata", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("sample event: %v", err)
		}
		events["aws-lambda-go/"+filepath.Base(f)] = b
	}
	return events
}

// FuzzInvocations fuzzes traced handlers with payloads as Lambda could send
// them, seeded with [SampleEvents]: whatever the payload, each handler's
// invocation never panics, leaves exactly one invocation span (status Error
// when it fails), and answers valid JSON when it succeeds. newHandlers builds
// the handlers once, by name, with the Tracing they must wrap.
func FuzzInvocations(f *testing.F, newHandlers func(testing.TB, *otelsetup.Tracing) map[string]lambda.Handler) {
	for _, b := range SampleEvents(f) {
		f.Add(b)
	}
	for _, b := range []string{"", "{", "null", "[]", `"x"`, "0", `{"Records":null}`, `{"Records":[null]}`, `{"Records":[{}]}`} {
		f.Add([]byte(b))
	}
	f.Setenv("OTEL_SERVICE_NAME", "test-function")
	tr, exp := New(f)
	handlers := newHandlers(f, tr)
	f.Fuzz(func(t *testing.T, payload []byte) {
		for name, h := range handlers {
			exp.Reset()
			answer, err := h.Invoke(InvocationContext("req-1", TraceHeader), payload)
			var invocations []string
			for _, s := range exp.GetSpans() {
				if !s.Parent.IsValid() || s.Parent.IsRemote() {
					invocations = append(invocations, s.Name)
					if err != nil && s.Status.Code != codes.Error {
						t.Errorf("%s: invocation failed with %v, but its span's status is %v", name, err, s.Status.Code)
					}
				}
			}
			if len(invocations) != 1 {
				t.Errorf("%s: payload %.200q left %d invocation spans, want 1: %q", name, payload, len(invocations), invocations)
			}
			if err == nil && !json.Valid(bytes.TrimSpace(answer)) {
				t.Errorf("%s: payload %.200q: answer %.200q is not JSON", name, payload, answer)
			}
		}
	})
}
