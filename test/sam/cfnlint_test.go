package sam

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// cfnLintInstall says how to get the linter where it is missing. It is a
// Python package (PyPI "cfn-lint"); it brings aws-sam-translator, which runs
// the SAM transform offline, so no AWS account is needed.
const cfnLintInstall = "cfn-lint is not installed: `pip install cfn-lint==1.51.0` " +
	"(or pipx) installs the version this template is checked with"

// TestCfnLint runs cfn-lint, AWS's CloudFormation linter, on the template as
// deployed with each TraceExport value, and fails on any finding: errors,
// warnings and informational ones alike. cfn-lint's exit code is a bit field
// (cfnlint/runner/cli.py: 2 error, 4 warning, 8 informational; 1 means
// cfn-lint itself failed), so any non-zero code is a failure here.
//
// Without cfn-lint the test is skipped with how to install it, except under
// CI (CI=true), where a missing linter must not pass unnoticed.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI=true, so the template would go unchecked: %v", cfnLintInstall, err)
		}
		t.Skip(cfnLintInstall)
	}
	names := make([]string, 0, len(exports))
	for export := range exports {
		names = append(names, export)
	}
	slices.Sort(names)
	for _, export := range names {
		t.Run(export, func(t *testing.T) {
			cmd := exec.Command(bin,
				"--format", "parseable",
				// Stated, so that a .cfnlintrc cannot lower it.
				"--non-zero-exit-code", "informational",
				"--parameters", "TraceExport="+export,
				"--", templatePath(t))
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case err == nil:
				return
			case errors.As(err, &exit):
				t.Errorf("cfn-lint found %s (exit code %d):\n%s", lintFindings(exit.ExitCode()), exit.ExitCode(), out)
			default:
				t.Fatalf("run cfn-lint: %v\n%s", err, out)
			}
		})
	}
}

// lintFindings names the bits of a cfn-lint exit code.
func lintFindings(code int) string {
	var kinds []string
	for _, b := range []struct {
		bit  int
		kind string
	}{{1, "a failure of cfn-lint itself"}, {2, "errors"}, {4, "warnings"}, {8, "informational findings"}} {
		if code&b.bit != 0 {
			kinds = append(kinds, b.kind)
		}
	}
	if len(kinds) == 0 {
		return "something (unknown exit code)"
	}
	return strings.Join(kinds, " and ")
}
