package fidelity

import (
	"slices"
	"strings"
	"testing"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
	"github.com/xray-tracer/xray-tracer/test/harness"
)

// The business subsegments of the original pattern, and the annotation each
// carries.
var business = map[string]struct{ name, annotation string }{
	"dynamo":        {"DynamoDB Query", "path"},
	"http":          {"external HTTP Request", "path"},
	"sqs":           {"SQS Logic", "message"},
	"sns-publish":   {"SNS Publish Logic", "message"},
	"sns-subscribe": {"process_message", "message_content"},
	"sqs-subscribe": {"process_message", "message"},
}

// The AWS calls each function makes, as X-Ray must show them.
var awsCalls = map[string]struct{ service, operation string }{
	"dynamo":      {"DynamoDB", "UpdateItem"},
	"sqs":         {"SQS", "SendMessage"},
	"sns-publish": {"SNS", "Publish"},
}

func TestTraceContract(t *testing.T) {
	for _, p := range paths() {
		t.Run(p.String(), func(t *testing.T) {
			sc := runScenario(t, p, harness.PatternConfig{HTTPFailureRate: 0}, "/", "/hello")
			for _, req := range sc.reqs {
				t.Run(strings.TrimPrefix(req.Path, "/")+"/", func(t *testing.T) {
					checkRequest(t, sc.docs, req)
				})
			}
			t.Run("parents resolve", func(t *testing.T) { checkParents(t, sc.docs) })
			t.Run("one node per function", func(t *testing.T) { checkOneNodePerFunction(t, sc.docs) })
		})
	}
}

func checkRequest(t *testing.T, docs []harness.Segment, req harness.Request) {
	if len(req.Invocations) != 6 {
		t.Fatalf("%d invocations, want the 6 functions", len(req.Invocations))
	}
	var sendMessageID string
	for _, inv := range req.Invocations {
		if inv.Result.Err != nil {
			t.Errorf("%s failed: %+v", inv.Function, inv.Result.Err)
		}
		root := findInvocation(docs, inv)
		if root == nil {
			t.Errorf("%s: no invocation subsegment under Lambda's function segment %s", inv.Function, inv.SegmentID)
			continue
		}
		// The invocation is a subsegment of Lambda's own function segment.
		if root.Type != "subsegment" || root.TraceID != inv.TraceID {
			t.Errorf("%s: invocation document type %q trace %s, want a subsegment of %s", inv.Function, root.Type, root.TraceID, inv.TraceID)
		}
		// One trace across the fan-out; sqs-subscribe's batch is a trace of
		// its own, linked to the sender.
		if inv.Function != "sqs-subscribe" && inv.TraceID != req.TraceID {
			t.Errorf("%s: trace %s, want the request's %s", inv.Function, inv.TraceID, req.TraceID)
		}
		// Named as Powertools names them.
		checkAnnotations(t, inv.Function, *root, []string{"ColdStart", "Service"})
		if root.Annotations["Service"] != inv.Function {
			t.Errorf("%s: annotation Service = %v", inv.Function, root.Annotations["Service"])
		}
		sub := below(docs, root.ID)
		b := one(t, sub, business[inv.Function].name, inv.Function)
		checkAnnotations(t, inv.Function, b, []string{business[inv.Function].annotation})

		if call, ok := awsCalls[inv.Function]; ok {
			c := one(t, below(docs, b.ID), call.service, inv.Function+" "+b.Name)
			checkAWSCall(t, inv.Function, c, call.operation)
			if call.service == "SQS" {
				sendMessageID = c.ID
			}
		}
		switch inv.Function {
		case "http":
			checkRemoteCall(t, below(docs, b.ID))
		case "sqs-subscribe":
			if sendMessageID == "" {
				t.Fatalf("sqs-subscribe ran before the sqs function's SendMessage was found")
			}
			if len(b.Links) != 1 || b.Links[0].TraceID != req.TraceID || b.Links[0].ID != sendMessageID {
				t.Errorf("sqs-subscribe record links = %+v, want the SendMessage subsegment %s of trace %s", b.Links, sendMessageID, req.TraceID)
			}
		}
		if want := business[inv.Function].annotation; want == "path" && b.Annotations["path"] != req.Path {
			t.Errorf("%s: annotation path = %v, want %s", inv.Function, b.Annotations["path"], req.Path)
		}
	}
}

// checkAnnotations asserts that doc's indexed annotations are exactly want,
// and that none of them is also in metadata.
func checkAnnotations(t *testing.T, fn string, doc harness.Segment, want []string) {
	t.Helper()
	if got := keys(doc.Annotations); !slices.Equal(got, want) {
		t.Errorf("%s %q: annotations %v, want %v", fn, doc.Name, got, want)
	}
	for _, k := range want {
		if _, dup := doc.Metadata["default"][k]; dup {
			t.Errorf("%s %q: %s is in metadata as well as annotations", fn, doc.Name, k)
		}
	}
}

func checkAWSCall(t *testing.T, fn string, c harness.Segment, operation string) {
	t.Helper()
	if c.Namespace != "aws" || c.AWS == nil {
		t.Fatalf("%s: %s call has namespace %q aws %v, want an aws subsegment", fn, c.Name, c.Namespace, c.AWS)
	}
	if c.AWS.Operation != operation || c.AWS.Region != harness.Region || c.AWS.RequestID == "" {
		t.Errorf("%s: %s call aws = %+v, want operation %s, region %s and a request ID", fn, c.Name, *c.AWS, operation, harness.Region)
	}
	switch c.Name {
	case "DynamoDB":
		if c.AWS.TableName != harness.TableName {
			t.Errorf("%s: table_name = %q, want %s", fn, c.AWS.TableName, harness.TableName)
		}
	case "SQS":
		if !strings.HasSuffix(c.AWS.QueueURL, "/"+harness.QueueName) {
			t.Errorf("%s: queue_url = %q, want the queue's URL", fn, c.AWS.QueueURL)
		}
	}
	if c.Fault || c.Error {
		t.Errorf("%s: %s call marked failed", fn, c.Name)
	}
}

func checkRemoteCall(t *testing.T, sub []harness.Segment) {
	t.Helper()
	var remote []harness.Segment
	for _, s := range sub {
		if s.Namespace == "remote" {
			remote = append(remote, s)
		}
	}
	if len(remote) != 1 {
		t.Fatalf("http: %d remote subsegments, want 1", len(remote))
	}
	r := remote[0]
	if r.Name != "127.0.0.1" {
		t.Errorf("http: remote node %q, want the target's host", r.Name)
	}
	if r.HTTP == nil || r.HTTP.Request == nil || r.HTTP.Response == nil {
		t.Fatalf("http: remote subsegment without http request/response: %s", r.Raw)
	}
	if r.HTTP.Request.Method != "GET" || !strings.HasSuffix(r.HTTP.Request.URL, "/status") || r.HTTP.Response.Status != 200 {
		t.Errorf("http: remote call %+v %+v, want GET …/status answered 200", *r.HTTP.Request, *r.HTTP.Response)
	}
}

// checkParents asserts that every parent_id names a document of the trace or
// the parent Lambda gave the invocation.
func checkParents(t *testing.T, docs []harness.Segment) {
	ids := map[string]bool{}
	for _, d := range harness.Flatten(docs) {
		ids[d.ID] = true
	}
	for _, d := range harness.Flatten(docs) {
		if d.ParentID != "" && !ids[d.ParentID] {
			t.Errorf("%q (%s): parent_id %s names nothing in the trace", d.Name, d.ID, d.ParentID)
		}
	}
}

// checkOneNodePerFunction asserts that the exporter made no segment of its
// own: each function's node is Lambda's, with the spans beneath it.
func checkOneNodePerFunction(t *testing.T, docs []harness.Segment) {
	m := xrayview.BuildServiceMap(docs)
	for _, fn := range pattern.Functions {
		var types []string
		for n := range m.Nodes {
			if n.Name == fn {
				types = append(types, n.Type)
			}
		}
		slices.Sort(types)
		if want := []string{"AWS::Lambda", "AWS::Lambda::Function"}; !slices.Equal(types, want) {
			t.Errorf("%s: nodes of types %v, want Lambda's own %v", fn, types, want)
		}
	}
	for _, d := range docs {
		if d.Origin == "" && d.Type != "subsegment" {
			t.Errorf("the exporter made a segment %q: a node beside the function's own\n%s", d.Name, d.Raw)
		}
	}
}
