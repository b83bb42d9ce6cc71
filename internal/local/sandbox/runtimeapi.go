package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The Runtime API, as a runtime's HTTP client sees it:
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
const runtimeAPIBase = "/2018-06-01/runtime"

// handler serves the Runtime API and the part of the Extensions API that a
// Go runtime calls, on the address the process finds in AWS_LAMBDA_RUNTIME_API.
func (l *Lambda) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimeAPIBase+"/invocation/next", l.next)
	mux.HandleFunc("POST "+runtimeAPIBase+"/invocation/{id}/response", l.response)
	mux.HandleFunc("POST "+runtimeAPIBase+"/invocation/{id}/error", l.invocationError)
	mux.HandleFunc("POST "+runtimeAPIBase+"/init/error", l.initError)
	mux.HandleFunc("POST "+extensionAPIBase+"/register", l.registerExtension)
	mux.HandleFunc("GET "+extensionAPIBase+"/event/next", l.nextExtensionEvent)
	return mux
}

// caller is the process a Runtime API call comes from: the current one.
// With none, it answers so itself and returns nil.
func (l *Lambda) caller(w http.ResponseWriter) *process {
	l.mu.Lock()
	p := l.proc
	l.mu.Unlock()
	if p == nil {
		runtimeError(w, http.StatusInternalServerError, "Runtime.NoProcess", "no process is running")
	}
	return p
}

// next blocks until an invocation is queued for the polling process, then
// answers with its event and the documented headers. A runtime with a max
// concurrency polls several times at once; each poll takes one invocation.
// The Init phase ends at the first poll, as for Managed Instances: "at least
// one runtime worker has called /runtime/invocation/next"
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-execution-environment.html).
func (l *Lambda) next(w http.ResponseWriter, r *http.Request) {
	p := l.caller(w)
	if p == nil {
		return
	}
	p.pollOnce.Do(func() {
		p.firstPoll = time.Now()
		close(p.polled)
	})
	select {
	case inv := <-p.next:
		inv.started = time.Now()
		inv.deadline = inv.started.Add(l.fn.Timeout)
		close(inv.delivered)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", l.arn)
		if inv.trace != "" {
			h.Set("Lambda-Runtime-Trace-Id", inv.trace)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	case <-p.exited:
		// No answer at all when closing: in Lambda's Shutdown phase the
		// runtime's poll never returns, and the process gets SIGTERM. An
		// empty answer would read as a malformed invocation.
	}
}

// response records a successful answer. aws-lambda-go reports an error met
// while streaming the body in the Lambda-Runtime-Function-Error-Type and
// -Body trailers; that makes the answer a function error.
func (l *Lambda) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "reading the response: "+err.Error())
		return
	}
	var fnErr *InvokeError
	if typ := r.Trailer.Get("Lambda-Runtime-Function-Error-Type"); typ != "" {
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
		body = doc
		fnErr = parseFunctionError(doc, typ, "")
	}
	l.answer(w, r.PathValue("id"), body, fnErr)
}

// invocationError records a function error posted by the runtime.
func (l *Lambda) invocationError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "reading the error: "+err.Error())
		return
	}
	fnErr := parseFunctionError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"), r.Header.Get("Lambda-Runtime-Function-Xray-Error-Cause"))
	l.answer(w, r.PathValue("id"), body, fnErr)
}

// initError records the runtime's report that its initialization failed.
func (l *Lambda) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "reading the error: "+err.Error())
		return
	}
	fnErr := parseFunctionError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"), "")
	l.mu.Lock()
	p := l.proc
	l.mu.Unlock()
	if p != nil {
		p.initOnce.Do(func() {
			p.initErr = fnErr
			close(p.initFailed)
		})
	}
	accepted(w)
}

// answer completes the invocation with request ID id.
func (l *Lambda) answer(w http.ResponseWriter, id string, body []byte, fnErr *InvokeError) {
	l.mu.Lock()
	inv := l.inflight[id]
	delete(l.inflight, id)
	l.mu.Unlock()
	if inv == nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation "+id+" is awaiting an answer")
		return
	}
	inv.answered, inv.body, inv.err = time.Now(), body, fnErr
	close(inv.done)
	accepted(w)
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// runtimeError answers in the Runtime API's documented error format.
func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(InvokeError{Type: typ, Message: msg})
}
