package xrayview

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"time"
)

// NewHandler serves the page and its API from s:
//
//	GET /                 the page (its assets from the binary, under /assets/)
//	GET /api/map          the service map (MapView)
//	GET /api/traces       the trace list, newest first; ?filter= an annotation
//	                      filter (ParseFilter); 400 {"error": ...} if malformed
//	GET /api/trace/{id}   a trace's timeline (Timeline); 404 if not kept
//	GET /api/events       server-sent events: "update" with the store's version
//	                      whenever documents arrive
//
// Every URL the page uses is relative, so the handler may be mounted under a
// prefix with http.StripPrefix. The event stream lasts until its request's
// context ends: a server that stops should Close, or cancel its BaseContext,
// rather than wait for Shutdown to drain it.
func NewHandler(s *Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := writePage(w, page{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.Handle("GET /assets/", http.FileServerFS(webFS()))
	mux.HandleFunc("GET /api/map", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Map().View())
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		traces, err := s.Traces(r.URL.Query().Get("filter"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"traces": traces})
	})
	mux.HandleFunc("GET /api/trace/{id}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := s.Trace(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no trace " + r.PathValue("id") + " is kept"})
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
	mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, r *http.Request) { events(w, r, s) })
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// events streams an "update" event now and on every change of the store, so
// the page redraws as requests arrive without polling.
func events(w http.ResponseWriter, r *http.Request, s *Store) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	for {
		version, changed := s.Changed()
		// retry: how long the browser waits before reconnecting after the
		// stream ends (the runner restarting, for example).
		if _, err := fmt.Fprintf(w, "retry: 1000\nevent: update\ndata: %d\n\n", version); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// page fills index.html: links to the served assets, or (Inline) everything
// in one file.
type page struct {
	Inline    bool
	CSS       template.CSS
	Dagre     template.JS
	App       template.JS
	Data      template.JS
	Generated string
}

func writePage(w io.Writer, p page) error {
	if err := pageTemplate().Execute(w, p); err != nil {
		return fmt.Errorf("xrayview: page: %w", err)
	}
	return nil
}

// WriteHTML writes the page for docs as one self-contained HTML file: the
// map, the trace list and every trace's timeline computed now and inlined with
// the page's script and style, for opening from disk without a server. The
// live page's filter needs the server; the file lists every trace.
func WriteHTML(w io.Writer, docs []Segment, generated time.Time) error {
	data := snapshot{
		Map:       BuildServiceMap(docs).View(),
		Traces:    Summaries(docs, nil),
		Timelines: map[string]Timeline{},
		Generated: generated.UTC(),
	}
	byTrace := map[string][]Segment{}
	for _, d := range docs {
		byTrace[d.TraceID] = append(byTrace[d.TraceID], d)
	}
	for id, tdocs := range byTrace {
		data.Timelines[id] = BuildTimeline(tdocs)
	}
	// encoding/json escapes <, > and & in strings, so the data cannot close
	// its script element.
	js, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("xrayview: page data: %w", err)
	}
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(webFS(), name)
		if err != nil {
			return "", fmt.Errorf("xrayview: embedded %s: %w", name, err)
		}
		return string(b), nil
	}
	css, errCSS := read("assets/style.css")
	dagre, errDagre := read("assets/vendor/dagre.min.js")
	app, errApp := read("assets/app.js")
	if err := errors.Join(errCSS, errDagre, errApp); err != nil {
		return err
	}
	return writePage(w, page{
		Inline:    true,
		CSS:       template.CSS(css),
		Dagre:     template.JS(dagre),
		App:       template.JS(app),
		Data:      template.JS(js),
		Generated: generated.UTC().Format(time.RFC3339),
	})
}
