// Command fail is a Lambda function that always returns an error, for the
// tests of the Lambda stand-in's retries.
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) error {
		return errors.New("fails on purpose")
	})
}
