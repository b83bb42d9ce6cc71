package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/xray-tracer/xray-tracer/internal/local/emulators"
)

// createTable creates the Hits table as the template defines it: key
// "path" (string), on demand.
func (s *stack) createTable(ctx context.Context) error {
	s.ddb = dynamodb.NewFromConfig(s.awsConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String("http://" + s.cfg.dynalite)
	})
	return emulators.CreateHitsTable(ctx, s.ddb, tableName)
}

// hits reads every path's count from the table.
func (s *stack) hits(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	p := dynamodb.NewScanPaginator(s.ddb, &dynamodb.ScanInput{TableName: aws.String(tableName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", tableName, err)
		}
		for _, item := range page.Items {
			path, _ := item["path"].(*ddbtypes.AttributeValueMemberS)
			n, _ := item["hits"].(*ddbtypes.AttributeValueMemberN)
			if path == nil || n == nil {
				continue
			}
			v, _ := strconv.Atoi(n.Value)
			out[path.Value] = v
		}
	}
	return out, nil
}
