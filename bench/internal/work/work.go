// Package work is the handler that every variant of the benchmark runs, so
// that the variants differ only in how they trace it: each step of the work
// is handed to a Step, which runs it in a span (or not, in the untraced
// control).
package work

import (
	"context"
	"hash/fnv"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Event is what the benchmark sends: Spans asks for that many spans in all
// (the invocation's own and Spans-1 steps); Records is an SQS event's
// batch, one step per record. Describe makes a real DynamoDB call, which the
// benchmark never asks for: it keeps the client in every binary, as in a
// real function.
type Event struct {
	Spans   int `json:"spans"`
	Records []struct {
		MessageID string `json:"messageId"`
		Body      string `json:"body"`
	} `json:"Records"`
	Describe string `json:"describe"`
}

// Result is what the handler answers.
type Result struct {
	Steps int    `json:"steps"`
	Sum   uint32 `json:"sum"`
}

// Step runs fn as one named step of the work, in a span of its own when
// the variant traces.
type Step func(ctx context.Context, name string, fn func(context.Context) error) error

// Plain runs a step untraced.
func Plain(ctx context.Context, _ string, fn func(context.Context) error) error { return fn(ctx) }

// Handle does the work of ev, step by step.
func Handle(ctx context.Context, ev Event, db *dynamodb.Client, step Step) (Result, error) {
	if ev.Describe != "" {
		_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(ev.Describe)})
		return Result{}, err
	}
	var res Result
	h := fnv.New32a()
	do := func(name, input string) error {
		return step(ctx, name, func(context.Context) error {
			_, _ = h.Write([]byte(input))
			res.Steps++
			return nil
		})
	}
	if len(ev.Records) > 0 {
		for _, r := range ev.Records {
			if err := do("process_message", r.Body); err != nil {
				return res, err
			}
		}
	} else {
		for i := 1; i < ev.Spans; i++ {
			if err := do("step", strconv.Itoa(i)); err != nil {
				return res, err
			}
		}
	}
	res.Sum = h.Sum32()
	return res, nil
}
