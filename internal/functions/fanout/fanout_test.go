package fanout_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
)

func event(messages ...string) events.SNSEvent {
	var ev events.SNSEvent
	for i, m := range messages {
		ev.Records = append(ev.Records, events.SNSEventRecord{SNS: events.SNSEntity{MessageID: string(rune('a' + i)), Message: m}})
	}
	return ev
}

func TestPaths(t *testing.T) {
	tests := []struct {
		name    string
		ev      events.SNSEvent
		want    []string
		wantErr string
	}{
		{"one path", event("/orders/42"), []string{"/orders/42"}, ""},
		{"root", event("/"), []string{"/"}, ""},
		{"several records", event("/a", "/b"), []string{"/a", "/b"}, ""},
		{"no records", event(), nil, fanout.ErrNoRecords.Error()},
		{"empty message", event("/a", ""), nil, `SNS record 1 (message ID "b"): message "" is not a request path`},
		{"not a path", event("hello"), nil, `message "hello" is not a request path`},
		{"long message is cut", event(strings.Repeat("x", 200)), nil, `message "` + strings.Repeat("x", 64) + `" is not`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fanout.Paths(tt.ev)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("paths = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEachStopsAtFirstError(t *testing.T) {
	errStop := errors.New("stop")
	var seen []string
	err := fanout.Each(context.Background(), event("/a", "/b", "/c"), "step", func(_ context.Context, path string) error {
		seen = append(seen, path)
		if path == "/b" {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || !slices.Equal(seen, []string{"/a", "/b"}) {
		t.Errorf("Each = %v after %q, want stop after /a, /b", err, seen)
	}
}
