package xrayview

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeDocument(t *testing.T) {
	tests := []struct {
		name, doc string
		want      int
		wantErr   bool
	}{
		{"one document", `{"name":"a","id":"0000000000000001"}`, 1, false},
		{"an array of them", ` [{"name":"a"},{"name":"b"}]`, 2, false},
		{"not JSON", `{"name":`, 0, true},
		{"a broken array", `[{"name":"a"},`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, err := DecodeDocument([]byte(tt.doc))
			if (err != nil) != tt.wantErr || len(segs) != tt.want {
				t.Errorf("got %d segments, error %v; want %d, error %v", len(segs), err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestJSONLinesRoundTrip writes the recording and reads it back unchanged,
// byte for byte: documents are kept as received.
func TestJSONLinesRoundTrip(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "segments.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := ReadJSONLines(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "segments.jsonl")
	if err := WriteJSONLines(out, docs); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, in) {
		t.Error("documents changed on the way through")
	}
	if _, err := ReadJSONLines(strings.NewReader("{}\n\n{\"name\":\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v, want one naming line 3", err)
	}
}
