package xrayview

import (
	"strings"
	"testing"
)

func TestParseFilterMatches(t *testing.T) {
	ann := map[string][]any{
		"path":      {"/hello"},
		"Service":   {"dynamo", "http"},
		"ColdStart": {true},
		"count":     {float64(3)},
	}
	tests := []struct {
		expr string
		want bool
	}{
		{``, true},
		{`annotation.path = "/hello"`, true},
		{`annotation.path="/hello"`, true},
		{`annotation.path = "/other"`, false},
		{`annotation.path != "/other"`, true},
		{`annotation.missing != "x"`, false},
		{`annotation.Service = "http"`, true}, // any value of the trace
		{`annotation.ColdStart = true`, true},
		{`annotation.ColdStart = false`, false},
		{`annotation.ColdStart != false`, true},
		{`annotation.count = 3`, true},
		{`annotation.count = 3.0`, true},
		{`annotation.count >= 3 AND annotation.count < 4`, true},
		{`annotation.count > 3`, false},
		{`annotation.count = "3"`, false}, // types never coerce
		{`annotation.path = 1`, false},
		{`annotation.path BEGINSWITH "/he"`, true},
		{`annotation.path contains "ell"`, true},
		{`annotation.path ENDSWITH "x"`, false},
		{`annotation.path = "/x" OR annotation.ColdStart = true`, true},
		{`annotation.path = "/x" or annotation.ColdStart = true and annotation.count = 9`, false},
		{`(annotation.path = "/x" || annotation.ColdStart = true) && annotation.count = 3`, true},
		{`annotation.path = "/x" AND annotation.count = 3 OR annotation.Service = "dynamo"`, true},
		{`annotation.path = "\/hello"`, false}, // only \" and \\ escape
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := ParseFilter(tt.expr)
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			if got := f.Match(ann); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFilterRefusesMalformed(t *testing.T) {
	tests := []struct {
		expr, wantErr string
	}{
		{`annotation.path =`, "expected a value"},
		{`annotation.path "/hello"`, "expected an operator"},
		{`path = "/hello"`, "expected annotation.<key>"},
		{`service("api")`, "expected annotation.<key>"},
		{`annotation. = 1`, "annotation key"},
		{`annotation.pa-th = 1`, "expected an operator"},
		{`annotation.path = "/hello`, "unterminated string"},
		{`annotation.path = hello`, "expected a value"},
		{`annotation.count < "x"`, "does not compare strings"},
		{`annotation.ok > true`, "does not compare booleans"},
		{`annotation.n CONTAINS 1`, "does not compare numbers"},
		{`annotation.n = 1x`, "unexpected"},
		{`annotation.n = 1e`, "is not a number"},
		{`annotation.n = 1 AND`, "expected annotation.<key>"},
		{`(annotation.n = 1`, "expected )"},
		{`annotation.n = 1)`, "unexpected"},
		{`annotation.n ! 1`, "expected an operator"},
		{`annotation.n = 1 & annotation.m = 2`, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseFilter(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFilter error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
