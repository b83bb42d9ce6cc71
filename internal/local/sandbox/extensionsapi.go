package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
)

// The Extensions API, of which the stand-in serves what aws-lambda-go uses:
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
const extensionAPIBase = "/2020-01-01/extension"

// registerExtension serves the Extensions API's register call for an
// internal extension, which is all a Go runtime registers: aws-lambda-go
// registers one that takes no events so that Lambda sends the process
// SIGTERM before it ends the sandbox.
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
func (l *Lambda) registerExtension(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Lambda-Extension-Name") == "" {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "no Lambda-Extension-Name header")
		return
	}
	var body struct {
		Events []string `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	if len(body.Events) > 0 {
		// INVOKE and SHUTDOWN events would need the extension lifecycle,
		// which the stand-in does not run.
		runtimeError(w, http.StatusForbidden, "Extension.UnsupportedEvents", "the stand-in serves extensions that take no events")
		return
	}
	// Lambda takes registrations during Init only, one per name, and
	// answers as its Runtime Interface Emulator does
	// (aws/aws-lambda-runtime-interface-emulator, lambda/rapi/handler/
	// agentregister.go): a runtime that registers after its first poll for
	// an invocation would never get SIGTERM.
	p := l.caller(w)
	if p == nil {
		return
	}
	select {
	case <-p.polled:
		runtimeError(w, http.StatusForbidden, "Extension.RegistrationClosed", "Extension registration closed already")
		return
	default:
	}
	name := r.Header.Get("Lambda-Extension-Name")
	p.extMu.Lock()
	taken := slices.Contains(p.extensions, name)
	if !taken {
		p.extensions = append(p.extensions, name)
	}
	p.extMu.Unlock()
	if taken {
		runtimeError(w, http.StatusForbidden, "Extension.InvalidExtensionState", "Extension with this name already registered")
		return
	}
	w.Header().Set("Lambda-Extension-Identifier", NewRequestID())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName": l.fn.Name, "functionVersion": "$LATEST", "handler": "bootstrap",
	})
}

// nextExtensionEvent never answers: an extension registered for no events
// gets none, and its poll lasts until the process ends.
func (l *Lambda) nextExtensionEvent(_ http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
}
