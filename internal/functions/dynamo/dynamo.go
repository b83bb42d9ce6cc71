// Package dynamo counts the hits of each request path in a DynamoDB table:
// the "dynamo" function of the pattern.
package dynamo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/xray-tracer/xray-tracer/internal/functions/fanout"
	"github.com/xray-tracer/xray-tracer/internal/otelsetup"
)

// SubsegmentName is the business subsegment of one path's update.
const SubsegmentName = "DynamoDB Query"

// Handler adds one hit to the item of each path in the table, whose key is
// the string attribute "path" and whose counter is the number "hits".
type Handler struct {
	DB    *dynamodb.Client
	Table string
}

// Result is what the function returns: the count of each path after the hit.
type Result struct {
	Hits []Hit `json:"hits"`
}

// Hit is one path's count.
type Hit struct {
	Path string `json:"path"`
	Hits int64  `json:"hits"`
}

// Handle takes an SNS event from the fan-out topic.
func (h *Handler) Handle(ctx context.Context, ev events.SNSEvent) (Result, error) {
	var res Result
	err := fanout.Each(ctx, ev, SubsegmentName, func(ctx context.Context, path string) error {
		_ = otelsetup.PutAnnotation(ctx, "path", path)
		hits, err := h.addHit(ctx, path)
		if err != nil {
			return err
		}
		otelsetup.PutMetadata(ctx, "table", h.Table)
		otelsetup.PutMetadata(ctx, "hits", hits)
		res.Hits = append(res.Hits, Hit{Path: path, Hits: hits})
		return nil
	})
	return res, err
}

func (h *Handler) addHit(ctx context.Context, path string) (int64, error) {
	out, err := h.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(h.Table),
		Key:                       map[string]types.AttributeValue{"path": &types.AttributeValueMemberS{Value: path}},
		UpdateExpression:          aws.String("ADD hits :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("add a hit for %q in table %s: %w", path, h.Table, err)
	}
	n, ok := out.Attributes["hits"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("add a hit for %q in table %s: the answer has no number \"hits\"", path, h.Table)
	}
	hits, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("add a hit for %q in table %s: hits %q: %w", path, h.Table, n.Value, err)
	}
	return hits, nil
}
