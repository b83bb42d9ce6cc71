package sandbox

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// TestParseFunctionError checks the error format against the one
// aws-lambda-go posts, and the fallbacks for runtimes that post less.
func TestParseFunctionError(t *testing.T) {
	lambdaGo, err := json.Marshal(messages.InvokeResponse_Error{
		Message:    "boom",
		Type:       "string",
		StackTrace: []*messages.InvokeResponse_Error_StackFrame{{Path: "main.go", Line: 3, Label: "main"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		body, typ, xcause string
		want              InvokeError
	}{
		{
			name: "aws-lambda-go's document",
			body: string(lambdaGo), xcause: `{"exceptions":[]}`,
			want: InvokeError{Message: "boom", Type: "string",
				StackTrace: json.RawMessage(`[{"path":"main.go","line":3,"label":"main"}]`),
				XRayCause:  json.RawMessage(`{"exceptions":[]}`)},
		},
		{
			name: "type only in the header",
			body: `{"errorMessage":"m"}`, typ: "Runtime.Custom",
			want: InvokeError{Message: "m", Type: "Runtime.Custom"},
		},
		{
			name: "body not JSON",
			body: "plain failure", typ: "Runtime.Custom", xcause: "not json",
			want: InvokeError{Message: "plain failure", Type: "Runtime.Custom"},
		},
		{
			name: "nothing at all",
			want: InvokeError{Type: "Runtime.Unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseFunctionError([]byte(tt.body), tt.typ, tt.xcause)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}
