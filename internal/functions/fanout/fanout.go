// Package fanout reads the message that the pattern's API publishes to its
// fan-out topic: the path of the request, which four functions receive as
// the SNS message of their event.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// ErrNoRecords is returned for an SNS event without records, by the fan-out
// functions and by sns-subscribe alike.
var ErrNoRecords = errors.New("SNS event has no records")

// Paths returns the request path of every record of ev, in order. Lambda
// delivers one record per SNS invocation, but the event type allows more.
// A record whose message is not a path (empty, or not starting with "/") is
// an error that names the record's message ID.
func Paths(ev events.SNSEvent) ([]string, error) {
	if len(ev.Records) == 0 {
		return nil, ErrNoRecords
	}
	paths := make([]string, 0, len(ev.Records))
	for i, r := range ev.Records {
		msg := r.SNS.Message
		if !strings.HasPrefix(msg, "/") {
			return nil, fmt.Errorf("SNS record %d (message ID %q): message %.64q is not a request path", i, r.SNS.MessageID, msg)
		}
		paths = append(paths, msg)
	}
	return paths, nil
}

// Each runs fn for the path of every record of ev, each in its own span named
// step (a business subsegment on X-Ray), and stops at the first error.
func Each(ctx context.Context, ev events.SNSEvent, step string, fn func(ctx context.Context, path string) error) error {
	paths, err := Paths(ev)
	if err != nil {
		return err
	}
	for _, path := range paths {
		if err := otelsetup.Capture(ctx, step, func(ctx context.Context) error { return fn(ctx, path) }); err != nil {
			return err
		}
	}
	return nil
}
