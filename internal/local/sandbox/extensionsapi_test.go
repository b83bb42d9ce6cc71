package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExtensionsAPI: aws-lambda-go registers an internal extension that
// takes no events, to get SIGTERM before the sandbox ends; the stand-in
// accepts that and refuses what it cannot serve.
func TestExtensionsAPI(t *testing.T) {
	srv := httptest.NewServer((&Lambda{fn: Function{Name: "f"}}).handler())
	t.Cleanup(srv.Close)
	tests := []struct {
		name, extension, body string
		want                  int
	}{
		{"no events", "GoLangEnableSIGTERM", `{"events":[]}`, http.StatusOK},
		{"lifecycle events", "ext", `{"events":["INVOKE","SHUTDOWN"]}`, http.StatusForbidden},
		{"no name", "", `{"events":[]}`, http.StatusBadRequest},
		{"not JSON", "ext", `{`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
		})
	}
}
