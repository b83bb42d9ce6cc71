package localaws

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestFailedItems follows Lambda's reading of a batch response
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html):
// an empty or null answer deletes the whole batch, listed records stay, and
// an id that names no record of the batch fails the batch whole.
func TestFailedItems(t *testing.T) {
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "a"}, {MessageId: "b"}, {MessageId: "c"}}}
	tests := []struct {
		name    string
		payload string
		keep    []string
		wantErr bool
	}{
		{"no answer", ``, nil, false},
		{"null", `null`, nil, false},
		{"no failures", `{"batchItemFailures":[]}`, nil, false},
		{"another shape", `{"hits":[1]}`, nil, false},
		{"one failure", `{"batchItemFailures":[{"itemIdentifier":"b"}]}`, []string{"b"}, false},
		{"two failures", `{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"c"}]}`, []string{"a", "c"}, false},
		{"unknown id", `{"batchItemFailures":[{"itemIdentifier":"z"}]}`, nil, true},
		{"empty id", `{"batchItemFailures":[{"itemIdentifier":""}]}`, nil, true},
		{"not JSON", `oops`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep, err := failedItems([]byte(tt.payload), ev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("failedItems(%s) error = %v, want error %v", tt.payload, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(keep) != len(tt.keep) {
				t.Errorf("failedItems(%s) = %v, want %v", tt.payload, keep, tt.keep)
			}
			for _, id := range tt.keep {
				if !keep[id] {
					t.Errorf("failedItems(%s) = %v, want %s kept", tt.payload, keep, id)
				}
			}
		})
	}
}
