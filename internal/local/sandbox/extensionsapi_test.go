package sandbox

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestExtensionsAPI: a Go runtime registers an internal extension that takes
// no events, to get SIGTERM before the sandbox ends; the stand-in accepts
// that during Init, once per name, and refuses what it cannot serve.
func TestExtensionsAPI(t *testing.T) {
	tests := []struct {
		name, extension, body string
		// before: registered already; polled: the runtime has polled for
		// an invocation (Init is over).
		before []string
		polled bool
		want   int
	}{
		{name: "no events", extension: "GoLangEnableSIGTERM", body: `{"events":[]}`, want: http.StatusOK},
		{name: "a second extension", extension: "otelsetup", body: `{"events":[]}`, before: []string{"GoLangEnableSIGTERM"}, want: http.StatusOK},
		{name: "a name taken", extension: "otelsetup", body: `{"events":[]}`, before: []string{"otelsetup"}, want: http.StatusForbidden},
		{name: "after Init", extension: "otelsetup", body: `{"events":[]}`, polled: true, want: http.StatusForbidden},
		{name: "lifecycle events", extension: "ext", body: `{"events":["INVOKE","SHUTDOWN"]}`, want: http.StatusForbidden},
		{name: "no name", body: `{"events":[]}`, want: http.StatusBadRequest},
		{name: "not JSON", extension: "ext", body: `{`, want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &process{polled: make(chan struct{}), extensions: tt.before}
			if tt.polled {
				close(p.polled)
			}
			srv := httptest.NewServer((&Lambda{fn: Function{Name: "f"}, proc: p}).handler())
			t.Cleanup(srv.Close)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+extensionAPIBase+"/register", strings.NewReader(tt.body))
			if tt.extension != "" {
				req.Header.Set("Lambda-Extension-Name", tt.extension)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("register: %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusOK && resp.Header.Get("Lambda-Extension-Identifier") == "" {
				t.Error("no Lambda-Extension-Identifier")
			}
			if registered := slices.Contains(p.extensions, tt.extension); registered != (tt.want == http.StatusOK || slices.Contains(tt.before, tt.extension)) {
				t.Errorf("registered %v: %v", tt.extension, p.extensions)
			}
		})
	}
}
