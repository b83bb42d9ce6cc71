package xrayview

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHandlerServesPageAndAPI(t *testing.T) {
	s := NewStore()
	docs := recording(t)
	s.Add(docs...)
	srv := httptest.NewServer(NewHandler(s))
	defer srv.Close()
	f, _ := ParseFilter(`annotation.path = "/a/b"`)
	id := Summaries(docs, f)[0].ID

	tests := []struct {
		path       string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"/", 200, "text/html", `<script src="assets/vendor/dagre.min.js">`},
		{"/assets/app.js", 200, "javascript", "EventSource"},
		{"/assets/style.css", 200, "text/css", "--fault"},
		{"/assets/vendor/dagre.min.js", 200, "javascript", "@dagrejs/dagre 3.1.3"},
		{"/api/map", 200, "application/json", `"id":"http (AWS::Lambda::Function)","name":"http","type":"AWS::Lambda::Function","count":5,"errors":0,"faults":5`},
		{"/api/traces", 200, "application/json", `"traces":[`},
		{"/api/traces?filter=" + url.QueryEscape(`annotation.path = "/a/b"`), 200, "application/json", `"id":"` + id + `"`},
		{"/api/traces?filter=" + url.QueryEscape(`annotation.path = `), 400, "application/json", `"error":"filter: at column 19: expected a value`},
		{"/api/trace/" + id, 200, "application/json", `"traceId":"` + id + `"`},
		{"/api/trace/1-00000000-000000000000000000000000", 404, "application/json", `"error"`},
		{"/nowhere", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			if !bytes.Contains(body, []byte(tt.wantBody)) {
				t.Errorf("body lacks %s:\n%.600s", tt.wantBody, body)
			}
		})
	}
}

// TestHandlerStreamsUpdates reads the event stream: an update at once, and
// another when a document arrives.
func TestHandlerStreamsUpdates(t *testing.T) {
	s := NewStore()
	srv := httptest.NewServer(NewHandler(s))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if d, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				return d
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	if got := next(); got != "0" {
		t.Errorf("first update %q, want version 0", got)
	}
	s.Add(traceDoc(1, 1))
	if got := next(); got != "1" {
		t.Errorf("second update %q, want version 1", got)
	}
}

// TestWriteHTMLIsSelfContained checks the snapshot file: the data, the
// script and the style inline, nothing fetched from elsewhere.
func TestWriteHTMLIsSelfContained(t *testing.T) {
	docs := recording(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, docs, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<script type="application/json" id="xrayview-data">{"map":`, "@dagrejs/dagre 3.1.3", "Copyright (c) 2012-2014 Chris Pettitt", "function drawMap", "--fault", "snapshot 2026-01-02T03:04:05Z"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?i)<(script|link|img)[^>]+(src|href)=`).FindString(page); m != "" {
		t.Errorf("page loads a file: %s", m)
	}
	start := strings.Index(page, `id="xrayview-data">`) + len(`id="xrayview-data">`)
	end := strings.Index(page[start:], "</script>")
	var data snapshot
	if err := json.Unmarshal([]byte(page[start:start+end]), &data); err != nil {
		t.Fatalf("inlined data: %v", err)
	}
	if len(data.Traces) != 10 || len(data.Timelines) != 10 || len(data.Map.Nodes) != 19 {
		t.Errorf("inlined %d traces, %d timelines, %d nodes; want 10, 10, 19 (18 and the client)", len(data.Traces), len(data.Timelines), len(data.Map.Nodes))
	}
}

// TestVendoredAssetsMatchLockfile keeps the committed copy of the layout
// library at the version web/package-lock.json pins (make xrayview-assets
// refreshes it).
func TestVendoredAssetsMatchLockfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("web", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Resolved  string `json:"resolved"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		t.Fatal(err)
	}
	for name, p := range lock.Packages {
		if p.Resolved != "" {
			t.Errorf("%s: the lockfile records where it was fetched (%s): write it with --omit-lockfile-registry-resolved", name, p.Resolved)
		}
		if name != "" && p.Integrity == "" {
			t.Errorf("%s: no integrity hash", name)
		}
	}
	dagre := lock.Packages["node_modules/@dagrejs/dagre"].Version
	vendored, err := os.ReadFile(filepath.Join("web", "assets", "vendor", "dagre.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "/*! @dagrejs/dagre " + dagre + " (MIT"; !bytes.HasPrefix(vendored, []byte(want)) {
		t.Errorf("vendored dagre.min.js starts %.80q, want %q: run make xrayview-assets", vendored, want)
	}
}
