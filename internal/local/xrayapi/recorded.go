package xrayapi

import "github.com/xray-tracer/xray-tracer/internal/local/xrayview"

// The segments AWS services record themselves with active tracing, which no
// function's collector sends: API Gateway's stage, SNS's topics and Lambda's
// two segments per invocation. The fidelity harness and the local runner
// both play these services, each from its own record of a call (the harness
// from its own bookkeeping, the runner from its spans); the documents' shape
// lives here once, so that both draw the same service map.

// Stage is what API Gateway records for a request to a REST API stage with
// tracing on: the stage's segment, with a subsegment for its SNS
// integration's Publish call, whose id is the parent of the topic's segment.
// https://docs.aws.amazon.com/xray/latest/devguide/xray-services-apigateway.html
type Stage struct {
	Name          string // the API's name and stage, e.g. xray-tracer-api/prod
	TraceID       string
	ID            string
	IntegrationID string
	Start, End    float64
	Method, URL   string
	Status        int
	Region        string
}

// Segment is the stage's segment document. A 5xx answer is a fault, a 4xx
// an error, as X-Ray marks an HTTP segment.
func (s Stage) Segment() xrayview.Segment {
	return xrayview.Segment{
		Name: s.Name, ID: s.ID, TraceID: s.TraceID, Origin: "AWS::ApiGateway::Stage",
		StartTime: s.Start, EndTime: s.End,
		Fault: s.Status >= 500, Error: s.Status >= 400 && s.Status < 500,
		HTTP: &xrayview.HTTP{
			Request:  &xrayview.HTTPRequest{Method: s.Method, URL: s.URL},
			Response: &xrayview.HTTPResponse{Status: s.Status},
		},
		Subsegments: []xrayview.Segment{{
			Name: "SNS", ID: s.IntegrationID, Namespace: "aws", StartTime: s.Start, EndTime: s.End,
			AWS: &xrayview.AWS{Operation: "Publish", Region: s.Region},
		}},
	}
}

// Topic is SNS's segment for a message published to a topic with active
// tracing, in the publisher's trace under its Publish call (parentID).
// https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html
func Topic(name, arn, traceID, id, parentID string, start, end float64, fault bool) xrayview.Segment {
	return xrayview.Segment{
		Name: name, ID: id, TraceID: traceID, ParentID: parentID,
		Origin: "AWS::SNS", ResourceARN: arn, StartTime: start, EndTime: end, Fault: fault,
	}
}

// Invocation is one invocation of a function as Lambda records it with
// active tracing.
// https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
type Invocation struct {
	Function, ARN string
	TraceID       string
	// ServiceID is the AWS::Lambda segment's id, under ParentID (the
	// caller's: a topic's segment; none for an SQS batch, which starts a
	// trace of its own, linked to the senders' by Links).
	ServiceID, ParentID string
	// FunctionID is the AWS::Lambda::Function segment's id: the Parent of
	// the trace header the function gets, under which its spans attach.
	FunctionID string
	Start, End float64
	RequestID  string
	Links      []xrayview.Link
	Failed     bool // a function error: Lambda marks the function segment a fault
}

// Segments are the AWS::Lambda segment (the service) and the
// AWS::Lambda::Function segment (the function) under it.
func (inv Invocation) Segments() []xrayview.Segment {
	return []xrayview.Segment{
		{Name: inv.Function, ID: inv.ServiceID, TraceID: inv.TraceID, ParentID: inv.ParentID, Origin: "AWS::Lambda",
			ResourceARN: inv.ARN, StartTime: inv.Start, EndTime: inv.End, Links: inv.Links,
			AWS: &xrayview.AWS{RequestID: inv.RequestID}},
		{Name: inv.Function, ID: inv.FunctionID, TraceID: inv.TraceID, ParentID: inv.ServiceID, Origin: "AWS::Lambda::Function",
			ResourceARN: inv.ARN, StartTime: inv.Start, EndTime: inv.End, Fault: inv.Failed},
	}
}
