// Package sam checks the SAM template and the packaged artifacts offline:
// no AWS account is reachable here, so everything that can be checked
// without one is.
package sam

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
)

// The ADOT collector layer the template uses by default: ADOT Lambda v0.49.0
// (OpenTelemetry Collector v0.156.0), the newest the AWS Distro for
// OpenTelemetry docs list for Go: aws-otel.github.io pull request 850 moved
// lambda-go.mdx from ver-0-151-0:1 (v0.48.0, pull request 846) to
// ver-0-156-0:1 on 2026-08-25.
const adotLayer = "arn:aws:lambda:${AWS::Region}:901920570463:layer:aws-otel-collector-arm64-ver-0-156-0:1"

// functions maps each function's logical ID to its cmd/ name.
var functions = map[string]string{
	"DynamoFunction":       "dynamo",
	"HttpFunction":         "http",
	"SqsFunction":          "sqs",
	"SqsSubscribeFunction": "sqs-subscribe",
	"SnsPublishFunction":   "sns-publish",
	"SnsSubscribeFunction": "sns-subscribe",
}

// template is the parsed template: the JSON that goformation's intrinsic
// processor makes of the YAML, with every Ref, Fn::GetAtt and Fn::Sub turned
// into a marker ("ref:Name", "getatt:Name.Attr", the Sub string) and the
// names they reference collected, so the test can check that each exists.
type template struct {
	doc  map[string]any
	refs []string
}

var subName = regexp.MustCompile(`\$\{([^}!]+)\}`)

// exports are the values of the TraceExport parameter, with the conditions
// each makes true (AdotCollectorLayerArn at its default, empty).
var exports = map[string]map[string]bool{
	"collector": {"UseCollector": true, "UseXRayOTLP": false, "UseLayer": true, "DefaultAdotLayer": true},
	"xray-otlp": {"UseCollector": false, "UseXRayOTLP": true, "UseLayer": true, "DefaultAdotLayer": true},
	"xrayudp":   {"UseCollector": false, "UseXRayOTLP": false, "UseLayer": false, "DefaultAdotLayer": true},
}

// collectorConfigs are the collector configurations the layer runs, by
// TraceExport value, as the functions' artifacts hold them under /var/task.
var collectorConfigs = map[string]string{
	"collector": "collector.yaml",
	"xray-otlp": "collector-xray-otlp.yaml",
}

func parseTemplate(t *testing.T, path string) template {
	return parseTemplateFor(t, path, exports["collector"])
}

// parseTemplateFor parses the template as deployed with the conditions given.
func parseTemplateFor(t *testing.T, path string, conditions map[string]bool) template {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tpl template
	opts := &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Ref": func(_ string, input any, _ any) any {
			name, _ := input.(string)
			if name == "AWS::NoValue" {
				return nil // the property is left out
			}
			tpl.refs = append(tpl.refs, name)
			return "ref:" + name
		},
		"Fn::GetAtt": func(_ string, input any, _ any) any {
			parts := toStrings(input)
			if len(parts) == 1 { // the Name.Attr form
				parts = strings.SplitN(parts[0], ".", 2)
			}
			if len(parts) != 2 {
				t.Errorf("Fn::GetAtt %v: want [Name, Attr]", input)
				return ""
			}
			tpl.refs = append(tpl.refs, parts[0])
			return "getatt:" + parts[0] + "." + parts[1]
		},
		"Fn::Sub": func(_ string, input any, _ any) any {
			s, ok := input.(string)
			if !ok {
				t.Errorf("Fn::Sub %v: the template uses only the string form", input)
				return ""
			}
			for _, m := range subName.FindAllStringSubmatch(s, -1) {
				name, _, _ := strings.Cut(m[1], ".")
				tpl.refs = append(tpl.refs, name)
			}
			return s
		},
		// Kept as written, for TestTemplateConditions to read.
		"Fn::Equals": func(_ string, input any, _ any) any {
			return map[string]any{"equals": input}
		},
		"Fn::Or": func(_ string, input any, _ any) any {
			return map[string]any{"or": input}
		},
		// Each condition as the caller says it holds; TestTemplateConditions
		// checks what makes them hold.
		"Fn::If": func(_ string, input any, _ any) any {
			args, _ := input.([]any)
			if len(args) != 3 {
				t.Errorf("Fn::If %v: want [condition, then, else]", input)
				return nil
			}
			holds, known := conditions[str(args[0])]
			if !known {
				t.Errorf("Fn::If on condition %v, which the test does not know", args[0])
			}
			if holds {
				return args[1]
			}
			return args[2]
		},
	}}
	processed, err := intrinsics.ProcessYAML(data, opts)
	if err != nil {
		t.Fatalf("goformation cannot process %s: %v", path, err)
	}
	if err := json.Unmarshal(processed, &tpl.doc); err != nil {
		t.Fatal(err)
	}
	// The typed model must accept it too.
	if _, err := goformation.ParseYAMLWithOptions(data, opts); err != nil {
		t.Fatalf("goformation cannot parse %s: %v", path, err)
	}
	return tpl
}

func templatePath(t *testing.T) string {
	t.Helper()
	root, err := pattern.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy", "sam", "template.yaml")
}

// get walks the document along keys (map keys, or list indexes as strings).
func get(v any, keys ...string) any {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := -1
			for j := range x {
				if k == string(rune('0'+j)) {
					i = j
				}
			}
			if i < 0 {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, toStrings(e)...)
		}
		return out
	}
	return nil
}

func (tpl template) resources() map[string]any {
	r, _ := tpl.doc["Resources"].(map[string]any)
	return r
}

func (tpl template) ofType(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, r := range tpl.resources() {
		if str(get(r, "Type")) == typ {
			props, _ := get(r, "Properties").(map[string]any)
			out[name] = props
		}
	}
	return out
}

// fnProp returns a function's property, falling back to Globals.Function.
func (tpl template) fnProp(props map[string]any, key string) any {
	if v, ok := props[key]; ok {
		return v
	}
	return get(tpl.doc, "Globals", "Function", key)
}

func TestTemplateFunctions(t *testing.T) {
	for export, conditions := range exports {
		t.Run(export, func(t *testing.T) { checkFunctions(t, parseTemplateFor(t, templatePath(t), conditions), export) })
	}
}

func checkFunctions(t *testing.T, tpl template, export string) {
	fns := tpl.ofType("AWS::Serverless::Function")
	if len(fns) != len(functions) {
		t.Fatalf("%d functions, want the pattern's %d", len(fns), len(functions))
	}
	makefile, err := os.ReadFile(filepath.Join(filepath.Dir(templatePath(t)), "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for id, name := range functions {
		t.Run(id, func(t *testing.T) {
			props, ok := fns[id]
			if !ok {
				t.Fatalf("no function %s", id)
			}
			checks := map[string]string{
				"Runtime": "provided.al2023",
				"Handler": "bootstrap",
				"Tracing": "Active",
			}
			for key, want := range checks {
				if got := str(tpl.fnProp(props, key)); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			if got := toStrings(tpl.fnProp(props, "Architectures")); !slices.Equal(got, []string{"arm64"}) {
				t.Errorf("Architectures = %v, want [arm64]", got)
			}
			layers := toStrings(tpl.fnProp(props, "Layers"))
			switch export {
			case "collector", "xray-otlp":
				if len(layers) != 1 || layers[0] != adotLayer {
					t.Errorf("Layers = %v, want the ADOT collector layer %s", layers, adotLayer)
				}
			case "xrayudp":
				if len(layers) != 0 {
					t.Errorf("Layers = %v, want none on the xrayudp path", layers)
				}
			}
			env := map[string]string{}
			for _, m := range []any{get(tpl.doc, "Globals", "Function", "Environment", "Variables"), get(props, "Environment", "Variables")} {
				vars, _ := m.(map[string]any)
				for k, v := range vars {
					env[k] = str(v)
				}
			}
			wantConfig, wantExporter := "", "xrayudp"
			if file, ok := collectorConfigs[export]; ok {
				wantConfig, wantExporter = "/var/task/"+file, "otlp"
			}
			if env["OPENTELEMETRY_COLLECTOR_CONFIG_URI"] != wantConfig {
				t.Errorf("OPENTELEMETRY_COLLECTOR_CONFIG_URI = %q, want %q", env["OPENTELEMETRY_COLLECTOR_CONFIG_URI"], wantConfig)
			}
			if env["OTEL_TRACES_EXPORTER"] != wantExporter {
				t.Errorf("OTEL_TRACES_EXPORTER = %q, want %q", env["OTEL_TRACES_EXPORTER"], wantExporter)
			}
			if env["OTEL_SERVICE_NAME"] != name {
				t.Errorf("OTEL_SERVICE_NAME = %q, want %q", env["OTEL_SERVICE_NAME"], name)
			}
			if m := tpl.fnProp(props, "MemorySize"); m == nil {
				t.Errorf("MemorySize unset: choose it deliberately")
			}
			if m := tpl.fnProp(props, "Timeout"); m == nil {
				t.Errorf("Timeout unset: choose it deliberately")
			}
			// Built by the root Makefile, as sam build's makefile method does.
			if got := str(get(tpl.resources()[id], "Metadata", "BuildMethod")); got != "makefile" {
				t.Errorf("Metadata.BuildMethod = %q, want makefile", got)
			}
			if !strings.Contains(string(makefile), "\nbuild-"+id+":") || !strings.Contains(string(makefile), "FUNCTION="+name+"\n") {
				t.Errorf("the Makefile has no build-%s target building cmd/%s", id, name)
			}
		})
	}
}

func TestTemplateResourcesExist(t *testing.T) {
	tpl := parseTemplate(t, templatePath(t))
	params, _ := tpl.doc["Parameters"].(map[string]any)
	for _, name := range tpl.refs {
		if strings.HasPrefix(name, "AWS::") {
			continue // pseudo parameters
		}
		if _, ok := tpl.resources()[name]; ok {
			continue
		}
		if _, ok := params[name]; ok {
			continue
		}
		t.Errorf("the template references %q, which is neither a resource nor a parameter", name)
	}
	if len(tpl.refs) < 10 {
		t.Errorf("only %d references found: the reference collection is broken", len(tpl.refs))
	}
}

func TestTemplateLeastPrivilege(t *testing.T) {
	tpl := parseTemplate(t, templatePath(t))
	want := map[string][]string{ // function → "action on resource"
		"DynamoFunction":     {"dynamodb:UpdateItem on getatt:HitsTable.Arn"},
		"SqsFunction":        {"sqs:SendMessage on getatt:HelloQueue.Arn"},
		"SnsPublishFunction": {"sns:Publish on ref:SecondTopic"},
	}
	for id, props := range tpl.ofType("AWS::Serverless::Function") {
		var got []string
		for _, policy := range asList(props["Policies"]) {
			stmts, ok := get(policy, "Statement").([]any)
			if !ok {
				t.Errorf("%s: policy %v is not a statement list (managed policies and templates are not scoped by this test)", id, policy)
				continue
			}
			for _, s := range stmts {
				got = append(got, checkStatement(t, id, s)...)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want[id]) {
			t.Errorf("%s may do %v, want exactly %v", id, got, want[id])
		}
	}
	// The API's role may publish to the fan-out topic and nothing else.
	role := tpl.ofType("AWS::IAM::Role")["ApiPublishRole"]
	var got []string
	for _, p := range asList(role["Policies"]) {
		for _, s := range asList(get(p, "PolicyDocument", "Statement")) {
			got = append(got, checkStatement(t, "ApiPublishRole", s)...)
		}
	}
	if !slices.Equal(got, []string{"sns:Publish on ref:FanoutTopic"}) {
		t.Errorf("the API's role may do %v, want only sns:Publish on the fan-out topic", got)
	}
}

// checkStatement fails on a wildcard action or resource and returns the
// statement as "action on resource" pairs.
func checkStatement(t *testing.T, who string, s any) []string {
	t.Helper()
	if str(get(s, "Effect")) != "Allow" {
		return nil
	}
	var out []string
	for _, a := range toStrings(get(s, "Action")) {
		if strings.Contains(a, "*") {
			t.Errorf("%s: wildcard action %q", who, a)
		}
		for _, r := range toStrings(get(s, "Resource")) {
			if strings.Contains(r, "*") {
				t.Errorf("%s: wildcard resource %q", who, r)
			}
			out = append(out, a+" on "+r)
		}
	}
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func TestTemplateWiring(t *testing.T) {
	tpl := parseTemplate(t, templatePath(t))

	api := tpl.ofType("AWS::Serverless::Api")["Api"]
	if get(api, "TracingEnabled") != true || str(get(api, "StageName")) != "prod" {
		t.Errorf("API: TracingEnabled %v, StageName %v; want a traced prod stage", get(api, "TracingEnabled"), get(api, "StageName"))
	}
	for _, path := range []string{"/", "/{proxy+}"} {
		integ := get(api, "DefinitionBody", "paths", path, "get", "x-amazon-apigateway-integration")
		tmpl := str(get(integ, "requestTemplates", "application/json"))
		if !strings.Contains(tmpl, "Action=Publish") || !strings.Contains(tmpl, "${FanoutTopic}") || !strings.Contains(tmpl, "Message=") {
			t.Errorf("GET %s: integration template %q does not publish the path to the fan-out topic", path, tmpl)
		}
		if got := str(get(integ, "responses", `2\d{2}`, "statusCode")); got != "200" {
			t.Errorf("GET %s: SNS's 2xx answers %q, want 200", path, got)
		}
		if got := str(get(integ, "responses", "default", "statusCode")); got == "" || got[0] != '5' {
			t.Errorf("GET %s: a failed publish answers %q, want a 5xx, not a hidden failure", path, got)
		}
		if str(get(integ, "credentials")) != "getatt:ApiPublishRole.Arn" {
			t.Errorf("GET %s: integration credentials %v, want the API's publish role", path, get(integ, "credentials"))
		}
	}

	for name, props := range tpl.ofType("AWS::SNS::Topic") {
		if str(props["TracingConfig"]) != "Active" {
			t.Errorf("topic %s: TracingConfig %v, want Active", name, props["TracingConfig"])
		}
	}

	queues := tpl.ofType("AWS::SQS::Queue")
	redrive := get(queues["HelloQueue"], "RedrivePolicy")
	if str(get(redrive, "deadLetterTargetArn")) != "getatt:HelloDeadLetterQueue.Arn" || get(redrive, "maxReceiveCount") == nil {
		t.Errorf("HelloQueue redrive policy %v, want the DLQ with a maxReceiveCount", redrive)
	}

	table := tpl.ofType("AWS::DynamoDB::Table")["HitsTable"]
	if str(get(table, "BillingMode")) != "PAY_PER_REQUEST" || str(get(table, "KeySchema", "0", "AttributeName")) != "path" {
		t.Errorf("HitsTable %v, want on-demand with key path", table)
	}

	// Subscriptions: four functions on the fan-out topic, sns-subscribe on
	// the second, sqs-subscribe on the queue with batch item failures.
	subs := map[string][]string{}
	for id, props := range tpl.ofType("AWS::Serverless::Function") {
		events, _ := props["Events"].(map[string]any)
		for _, ev := range events {
			switch str(get(ev, "Type")) {
			case "SNS":
				topic := str(get(ev, "Properties", "Topic"))
				subs[topic] = append(subs[topic], id)
			case "SQS":
				subs[str(get(ev, "Properties", "Queue"))] = append(subs[str(get(ev, "Properties", "Queue"))], id)
				if !slices.Contains(toStrings(get(ev, "Properties", "FunctionResponseTypes")), "ReportBatchItemFailures") {
					t.Errorf("%s: SQS event without ReportBatchItemFailures: a failed record would fail the batch", id)
				}
			}
		}
	}
	for _, l := range subs {
		slices.Sort(l)
	}
	want := map[string][]string{
		"ref:FanoutTopic":       {"DynamoFunction", "HttpFunction", "SnsPublishFunction", "SqsFunction"},
		"ref:SecondTopic":       {"SnsSubscribeFunction"},
		"getatt:HelloQueue.Arn": {"SqsSubscribeFunction"},
	}
	for src, fns := range want {
		if !slices.Equal(subs[src], fns) {
			t.Errorf("%s invokes %v, want %v", src, subs[src], fns)
		}
	}
	if len(subs) != len(want) {
		t.Errorf("event sources %v, want only %v", subs, want)
	}

	outputs, _ := tpl.doc["Outputs"].(map[string]any)
	if !strings.Contains(str(get(outputs, "ApiUrl", "Value")), "${Api}.execute-api") || !strings.Contains(str(get(outputs, "TraceMap", "Value")), "xray") {
		t.Errorf("outputs %v, want the API URL and the X-Ray trace map link", outputs)
	}
}

// TestTemplateConditions checks what makes the conditions the other tests
// assume hold: the layer parameter empty by default, and TraceExport
// choosing the path, collector by default.
func TestTemplateConditions(t *testing.T) {
	tpl := parseTemplate(t, templatePath(t))
	if d := get(tpl.doc, "Parameters", "AdotCollectorLayerArn", "Default"); d != "" {
		t.Errorf("AdotCollectorLayerArn default %v, want empty (the region's ADOT layer)", d)
	}
	if d := get(tpl.doc, "Parameters", "TraceExport", "Default"); d != "collector" {
		t.Errorf("TraceExport default %v, want collector", d)
	}
	if got := toStrings(get(tpl.doc, "Parameters", "TraceExport", "AllowedValues")); !slices.Equal(got, []string{"collector", "xray-otlp", "xrayudp"}) {
		t.Errorf("TraceExport allows %v, want collector, xray-otlp and xrayudp", got)
	}
	for name, want := range map[string][]string{
		"DefaultAdotLayer": {"ref:AdotCollectorLayerArn", ""},
		"UseCollector":     {"ref:TraceExport", "collector"},
		"UseXRayOTLP":      {"ref:TraceExport", "xray-otlp"},
	} {
		if got := toStrings(get(tpl.doc, "Conditions", name, "equals")); !slices.Equal(got, want) {
			t.Errorf("condition %s = %v, want %v equal", name, got, want)
		}
	}
	// The layer runs on both paths that use a collector config.
	if got := toStrings(get(tpl.doc, "Conditions", "UseLayer", "or")); !slices.Equal(got, []string{"UseCollector", "UseXRayOTLP"}) {
		t.Errorf("condition UseLayer = %v, want UseCollector or UseXRayOTLP", got)
	}
	if n := len(tpl.doc["Conditions"].(map[string]any)); n != len(exports["collector"]) {
		t.Errorf("%d conditions, the test knows %d", n, len(exports["collector"]))
	}
}
