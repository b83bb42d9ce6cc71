package otelsetup

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
)

// runtimeAPI answers the Extensions API's register call with status (and
// an identifier unless noID), and records what it is asked.
type runtimeAPI struct {
	status int
	noID   bool

	mu       sync.Mutex
	requests []string // "METHOD path name-or-identifier body"
	polled   chan struct{}
}

func (a *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.requests = append(a.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Lambda-Extension-Name")+r.Header.Get("Lambda-Extension-Identifier")+" "+string(body))
	a.mu.Unlock()
	switch r.URL.Path {
	case "/2020-01-01/extension/register":
		if !a.noID {
			w.Header().Set("Lambda-Extension-Identifier", "ext-id-1")
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, `{"errorType":"Extension.RegistrationClosed","errorMessage":"Extension registration closed already"}`)
	case "/2020-01-01/extension/event/next":
		close(a.polled)
		<-r.Context().Done() // no events: the poll lasts
	}
}

func (a *runtimeAPI) got() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.requests...)
}

func TestRegisterExtension(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		noID    bool
		down    bool   // nothing listens at the address
		wantErr string // "" for a registration that holds
	}{
		{name: "registered", status: http.StatusOK},
		{name: "refused after Init", status: http.StatusForbidden, wantErr: "403 Forbidden: {\"errorType\":\"Extension.RegistrationClosed\""},
		{name: "no identifier", status: http.StatusOK, noID: true, wantErr: "without Lambda-Extension-Identifier"},
		{name: "nothing listening", down: true, wantErr: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &runtimeAPI{status: tt.status, noID: tt.noID, polled: make(chan struct{})}
			srv := httptest.NewServer(api)
			defer srv.Close()
			// The extension's poll lasts until its connection ends.
			defer srv.CloseClientConnections()
			addr := strings.TrimPrefix(srv.URL, "http://")
			if tt.down {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr = ln.Addr().String()
				ln.Close()
			}
			r := (&Tracing{}).registerExtension(addr)
			select {
			case <-r.done:
			case <-time.After(registerTimeout + time.Second):
				t.Fatal("the registration never ended")
			}
			if tt.wantErr == "" && r.err != nil || tt.wantErr != "" && (r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", r.err, tt.wantErr)
			}
			if tt.down {
				return
			}
			if got := api.got(); got[0] != `POST /2020-01-01/extension/register otelsetup {"events":[]}` {
				t.Errorf("register request %q", got[0])
			}
			if tt.wantErr != "" {
				return
			}
			// Init ends only once every extension polls for its next event.
			select {
			case <-api.polled:
			case <-time.After(5 * time.Second):
				t.Fatal("the extension never polled for its next event")
			}
			if got := api.got(); got[1] != "GET /2020-01-01/extension/event/next ext-id-1 " {
				t.Errorf("poll %q, want one with the extension's identifier", got[1])
			}
		})
	}
}

// TestSetupRegistersInALambdaSandbox: Setup registers only where there is
// a Runtime API, and only when it records spans that a shutdown could flush.
func TestSetupRegistersInALambdaSandbox(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		register bool
	}{
		{"in Lambda", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, true},
		{"SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "true"}, false},
		{"no Runtime API", map[string]string{"OTEL_TRACES_EXPORTER": "none", "AWS_LAMBDA_RUNTIME_API": ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &runtimeAPI{status: http.StatusOK, polled: make(chan struct{})}
			srv := httptest.NewServer(api)
			defer srv.Close()
			// The extension's poll lasts until its connection ends.
			defer srv.CloseClientConnections()
			t.Setenv("AWS_LAMBDA_RUNTIME_API", strings.TrimPrefix(srv.URL, "http://"))
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tr, err := Setup(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tr.Shutdown(context.Background()) }()
			if (tr.extension != nil) != tt.register {
				t.Fatalf("registration begun: %v, want %v", tr.extension != nil, tt.register)
			}
			if tt.register {
				<-tr.extension.done
				if tr.extension.err != nil {
					t.Fatal(tr.extension.err)
				}
			} else if got := api.got(); len(got) > 0 {
				t.Errorf("requests to the Runtime API: %q", got)
			}
		})
	}
}

// TestWrapReportsAFailedRegistrationOnce: Wrap waits for the registration
// and reports its failure through OpenTelemetry's error handler, once
// however many handlers it builds.
func TestWrapReportsAFailedRegistrationOnce(t *testing.T) {
	var mu sync.Mutex
	var handled []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, err)
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	api := &runtimeAPI{status: http.StatusForbidden, polled: make(chan struct{})}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("AWS_LAMBDA_RUNTIME_API", strings.TrimPrefix(srv.URL, "http://"))
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	tr, err := Setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	handler := func(context.Context, struct{}) (string, error) { return "", nil }
	Wrap(tr, handler)
	Wrap(tr, handler)

	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 1 || !strings.Contains(handled[0].Error(), "Extension.RegistrationClosed") {
		t.Errorf("reported %q, want the refused registration once", handled)
	}
}
