package main

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/xray-tracer/xray-tracer/internal/local/xrayview"
)

// The runner's spans of a request, as apigw, the trace keeper and localaws
// start them, become the segments API Gateway, SNS and Lambda record: one
// node each on the map, joined as X-Ray joins them, Lambda's fault on the
// function's segment, and an SQS batch's invocation linked to its sender.
func TestAWSSegmentsDrawTheServicesNodes(t *testing.T) {
	store := xrayview.NewStore()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(newAWSSegments(store, "127.0.0.1:3000")))
	tr := tp.Tracer("test")
	server := trace.WithSpanKind(trace.SpanKindServer)

	ctx, stage := tr.Start(context.Background(), apiName, server, trace.WithAttributes(
		semconv.HTTPRequestMethodKey.String("GET"), semconv.URLPath("/hello"), semconv.HTTPRoute("/{proxy+}")))
	ctx, publish := tr.Start(ctx, "SNS.Publish", trace.WithSpanKind(trace.SpanKindClient))
	tctx, topic := tr.Start(ctx, fanoutTopic, server, trace.WithAttributes(semconv.MessagingSystemAWSSNS))
	_, fn := tr.Start(tctx, "http", server, trace.WithAttributes(semconv.FaaSInvokedName("http"), semconv.FaaSInvocationID("r-1")))
	fn.SetStatus(codes.Error, "simulated failure")
	fn.End()
	_, batch := tr.Start(context.Background(), "sqs-subscribe", server, trace.WithNewRoot(),
		trace.WithLinks(trace.Link{SpanContext: publish.SpanContext()}),
		trace.WithAttributes(semconv.FaaSInvokedName("sqs-subscribe")))
	batch.End()
	topic.End()
	publish.End()
	stage.SetAttributes(semconv.HTTPResponseStatusCode(200))
	stage.End()

	m := store.Map().View()
	var nodes, edges []string
	for _, n := range m.Nodes {
		nodes = append(nodes, n.Name+" ("+n.Type+")")
		if n.Name == "http" && n.Type == "AWS::Lambda::Function" && n.Faults != 1 {
			t.Errorf("http's function segment has %d faults, want 1", n.Faults)
		}
	}
	for _, e := range m.Edges {
		edges = append(edges, e.From+" -> "+e.To)
	}
	wantNodes := []string{"client (client)", apiName + " (AWS::ApiGateway::Stage)", "fan-out (AWS::SNS)",
		"http (AWS::Lambda)", "http (AWS::Lambda::Function)", "sqs-subscribe (AWS::Lambda)", "sqs-subscribe (AWS::Lambda::Function)"}
	wantEdges := []string{
		"client (client) -> " + apiName + " (AWS::ApiGateway::Stage)",
		apiName + " (AWS::ApiGateway::Stage) -> fan-out (AWS::SNS)",
		"fan-out (AWS::SNS) -> http (AWS::Lambda)",
		"http (AWS::Lambda) -> http (AWS::Lambda::Function)",
		"sqs-subscribe (AWS::Lambda) -> sqs-subscribe (AWS::Lambda::Function)",
		// The batch links to the call that sent its message (here the
		// stage's SNS integration; in the pattern the sqs function's SQS
		// call), and the map draws the link from that call's node.
		"SNS (AWS::SNS) -> sqs-subscribe (AWS::Lambda)",
	}
	for _, s := range [][]string{nodes, edges, wantNodes, wantEdges} {
		slices.Sort(s)
	}
	if !slices.Equal(nodes, wantNodes) {
		t.Errorf("nodes %q, want %q", nodes, wantNodes)
	}
	if !slices.Equal(edges, wantEdges) {
		t.Errorf("edges %q, want %q", edges, wantEdges)
	}
	var links int
	for _, s := range store.Segments() {
		if s.Origin == "AWS::Lambda" && s.Name == "sqs-subscribe" {
			links = len(s.Links)
		}
	}
	if links != 1 {
		t.Errorf("sqs-subscribe's Lambda segment has %d links, want 1 (to its sender)", links)
	}
}
