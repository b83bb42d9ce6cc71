package envconfig

import (
	"strings"
	"testing"
)

func TestRequire(t *testing.T) {
	tests := []struct {
		value, want, wantErr string
	}{
		{"Hits", "Hits", ""},
		{"  Hits ", "Hits", ""},
		{"", "", "TABLE_NAME is not set: it must hold the table"},
		{"   ", "", "TABLE_NAME is not set"},
	}
	for _, tt := range tests {
		t.Setenv("TABLE_NAME", tt.value)
		got, err := Require("TABLE_NAME", "the table")
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Require with %q = %q, %v; want %q, error %q", tt.value, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFraction(t *testing.T) {
	tests := []struct {
		value   string
		want    float64
		wantErr bool
	}{
		{"", 0.4, false},
		{"0", 0, false},
		{"1", 1, false},
		{"0.25", 0.25, false},
		{"1.5", 0, true},
		{"-0.1", 0, true},
		{"half", 0, true},
	}
	for _, tt := range tests {
		t.Setenv("FAILURE_RATE", tt.value)
		got, err := Fraction("FAILURE_RATE", 0.4)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Fraction with %q = %v, %v; want %v, error %v", tt.value, got, err, tt.want, tt.wantErr)
		}
	}
}
