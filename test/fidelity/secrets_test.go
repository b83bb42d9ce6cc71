package fidelity

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/xray-tracer/xray-tracer/test/harness"
)

// Markers: credentials and data no segment may hold, each distinctive
// enough that finding it anywhere means it was recorded.
const (
	markerAccessKeyID  = "AKIAFIDELITYMARKER01"
	markerSecretKey    = "fidelity-marker-secret-access-key"
	markerSessionToken = "fidelity-marker-session-token"
	markerSignature    = "fidelitymarkersignature0123456789"
	markerPassword     = "fidelity-marker-password"
	markerCookie       = "fidelity-marker-cookie"
	markerSetCookie    = "fidelity-marker-set-cookie"
	// markerPath is the request's path: the message every fan-out function
	// receives, so the body that may appear only in their annotations.
	markerPath = "/fidelity-marker-body"
)

// No segment document of a whole run holds a credential or a message body
// beyond the pattern's annotations: every field of every document of every
// function is inspected (attributes, metadata, annotations, exceptions,
// keys and values), on every export path. The functions sign with marker
// credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// so every AWS call carries them in Authorization and X-Amz-Security-Token);
// the http function calls a presigned URL with a user and password (so its
// requests carry Authorization, and the URL a signature, a credential and a
// session token) and fails every call on purpose (so its errors, with the
// URL, are recorded); the external API answers Set-Cookie.
func TestNoSecretsInSegments(t *testing.T) {
	secrets := harness.Secrets{
		Values: []string{markerAccessKeyID, markerSecretKey, markerSessionToken, markerSignature, markerPassword, markerCookie, markerSetCookie},
		Bodies: []string{markerPath},
	}
	for _, p := range paths() {
		t.Run(p.String(), func(t *testing.T) {
			var mu sync.Mutex
			var seen []http.Header
			cfg := harness.PatternConfig{
				HTTPFailureRate: 1,
				Env: map[string]string{
					"AWS_ACCESS_KEY_ID":     markerAccessKeyID,
					"AWS_SECRET_ACCESS_KEY": markerSecretKey,
					"AWS_SESSION_TOKEN":     markerSessionToken,
				},
				HTTPTargetURL: func(base string) string {
					u := strings.Replace(base, "http://", "http://user:"+markerPassword+"@", 1)
					return u + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + markerAccessKeyID +
						"%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Security-Token=" + markerSessionToken +
						"&X-Amz-SignedHeaders=host&X-Amz-Signature=" + markerSignature
				},
				HTTPTargetHeaders: map[string]string{"Set-Cookie": "session=" + markerSetCookie + "; HttpOnly"},
				HTTPTargetSeen: func(r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					seen = append(seen, r.Header.Clone())
				},
			}
			sc := runScenario(t, p, cfg, markerPath, markerPath+"/again")

			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 || seen[0].Get("Authorization") == "" {
				t.Fatalf("the external API got %d requests, the first with headers %v; want Authorization, for the test to mean anything", len(seen), seen)
			}
			var functions int
			for _, doc := range sc.docs {
				if !strings.HasPrefix(doc.Origin, "AWS::") || doc.Origin == "AWS::Lambda::Function" && doc.ParentID == "" {
					functions++
				}
				for _, finding := range secrets.CheckDocument(doc) {
					t.Error(finding)
				}
			}
			if functions == 0 {
				t.Fatal("no document from the functions to inspect")
			}
		})
	}
}
