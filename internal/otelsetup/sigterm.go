package otelsetup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
)

// Lambda ends a sandbox with SIGKILL unless an extension is registered;
// then the runtime gets SIGTERM first, and 500 ms to flush what it holds
// before SIGKILL when the extension is an internal one
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html,
// "Shutdown phase"). So a traced function registers one, taking no events,
// as aws-lambda-go's lambda.WithEnableSIGTERM does.
//
// Registration is allowed only during Init, which ends when the runtime
// polls for its first invocation (the Extensions API's register call:
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html).
// aws-lambda-go registers just before that poll, so its round trip to the
// Runtime API, about a millisecond in `make bench`, adds to every cold
// start. Setup begins it instead, in the background, where it overlaps the
// rest of the function's Init (the AWS config, the clients), and Wrap
// awaits it, before lambda.Start's first poll.
const (
	extensionAPIPath = "/2020-01-01/extension/"
	// extensionName names the internal extension. Lambda shows it in the
	// Init phase's logs and telemetry.
	extensionName = "otelsetup"
	// registerTimeout bounds the register call: a Runtime API that does not
	// answer must not hold Init until Lambda's Init timeout. SIGTERM is
	// then not enabled, and Wrap says so.
	registerTimeout = 2 * time.Second
)

// registration is an internal extension's register call under way.
type registration struct {
	done     chan struct{}
	err      error // once done is closed
	reported sync.Once
}

// registerExtension begins registering the internal extension with the
// Runtime API at api (AWS_LAMBDA_RUNTIME_API: host:port), and has the tracing
// shut down (flushing what it holds) when SIGTERM comes. All of it runs in a
// goroutine of its own: even signal.Notify has a cost at Init (os/signal
// starts its watcher, the runtime a thread for signals), and none of it needs
// to come before the function's own Init; only the registration's end must
// come before the first poll, which Wrap awaits.
//
// Once registered, the extension polls for its next event, as every
// extension must for Init to end; having asked for no events, it gets none,
// and the poll lasts as long as the process.
func (t *Tracing) registerExtension(api string) *registration {
	r := &registration{done: make(chan struct{})}
	client := &http.Client{} // no timeout: the poll is meant to last
	base := "http://" + api + extensionAPIPath
	go func() {
		// Ready before the registration: once it holds, Lambda may send
		// SIGTERM at any time.
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM)
		go t.shutdownOn(signals)

		id, err := register(client, base)
		r.err = err
		close(r.done)
		if err != nil {
			return
		}
		req, err := http.NewRequest(http.MethodGet, base+"event/next", nil)
		if err != nil {
			return
		}
		req.Header.Set("Lambda-Extension-Identifier", id)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	return r
}

// shutdownOn shuts the tracing down when a signal comes.
func (t *Tracing) shutdownOn(signals <-chan os.Signal) {
	<-signals
	ctx, cancel := context.WithTimeout(context.Background(), t.flushTimeout)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		otel.Handle(err)
	}
}

// register makes the register call and returns the extension's identifier.
func register(client *http.Client, base string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"register", bytes.NewReader([]byte(`{"events":[]}`)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Lambda-Extension-Name", extensionName)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the Runtime API answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	id := resp.Header.Get("Lambda-Extension-Identifier")
	if id == "" {
		return "", fmt.Errorf("the Runtime API answered %s without Lambda-Extension-Identifier", resp.Status)
	}
	return id, nil
}

// awaitRegistration waits for Setup's registration, if it began one. A
// registration that failed is reported, once however many handlers Wrap
// builds: the function runs on, and spans held at the sandbox's end are
// lost.
func (t *Tracing) awaitRegistration() {
	r := t.extension
	if r == nil {
		return
	}
	<-r.done
	if r.err != nil {
		r.reported.Do(func() {
			otel.Handle(fmt.Errorf("otelsetup: register an extension so that Lambda sends SIGTERM before it ends the sandbox: %w (spans still held then are lost)", r.err))
		})
	}
}
