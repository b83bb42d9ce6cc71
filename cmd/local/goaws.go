package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/xray-tracer/xray-tracer/internal/local/localaws"
)

// writeGoawsConfig writes goaws's config: the queue and its dead-letter
// queue with the template's redrive policy, and both topics with HTTP
// subscriptions to the runner's SNS endpoint (confirmed from the start).
func writeGoawsConfig(path, addr, snsURL string, visibilityTimeout int) error {
	_, port, _ := net.SplitHostPort(addr)
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by cmd/local for each run.
Local:
  Host: localhost
  Port: %s
  Region: %s
  AccountId: "%s"
  LogToFile: false
  EnableDuplicates: false
  QueueAttributeDefaults:
    VisibilityTimeout: %d
    ReceiveMessageWaitTimeSeconds: 0
    MaximumMessageSize: 262144
  Queues:
    - Name: %s
      RedrivePolicy: '{"maxReceiveCount": %d, "deadLetterTargetArn": "arn:aws:sqs:%s:%s:%s"}'
    - Name: %s
  Topics:
`, port, region, account, visibilityTimeout, queueName, maxReceiveCount, region, account, dlqName, dlqName)
	topics := map[string][]string{fanoutTopic: fanoutSubscribers, secondTopic: {"sns-subscribe"}}
	for _, topic := range []string{fanoutTopic, secondTopic} {
		fmt.Fprintf(&b, "    - Name: %s\n      Subscriptions:\n", topic)
		for _, fn := range topics[topic] {
			sub := localaws.Subscription{TopicARN: topicARN(topic), Function: fn}
			fmt.Fprintf(&b, "        - Protocol: http\n          EndPoint: %s%s\n          TopicArn: %s\n          Raw: false\n",
				snsURL, localaws.Path(sub), sub.TopicARN)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
