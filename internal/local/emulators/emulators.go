// Package emulators installs and starts the local AWS emulators that the
// local runner (cmd/local) and the fidelity harness (test/harness) run the
// functions against: goaws for SNS and SQS (built from tools/goaws, where its
// version is pinned) and dynalite for DynamoDB (installed from
// tools/dynalite's npm lockfile).
package emulators

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/xray-tracer/xray-tracer/internal/local/procs"
)

// BuildGoaws builds tools/goaws into out unless out is newer than the
// module's go.mod, go.sum and main.go. Like InstallDynalite, one process
// builds while the others wait.
func BuildGoaws(ctx context.Context, root, out string) error {
	dir := filepath.Join(root, "tools", "goaws")
	upToDate := func() bool {
		return UpToDate(out, filepath.Join(dir, "go.mod"), filepath.Join(dir, "go.sum"), filepath.Join(dir, "main.go"))
	}
	if upToDate() {
		return nil
	}
	unlock, err := lock(filepath.Join(dir, ".build.lock"))
	if err != nil {
		return fmt.Errorf("goaws: %w", err)
	}
	defer unlock()
	if upToDate() {
		return nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build goaws: %w\n%s", err, b)
	}
	return nil
}

// InstallDynalite installs dynalite from tools/dynalite's lockfile (npm ci)
// unless it is installed already, and returns the path of its CLI. Several
// processes may ask at once (go test runs packages in parallel): a lock file
// lets one install while the others wait.
func InstallDynalite(ctx context.Context, root string, say func(string, ...any)) (string, error) {
	dir := filepath.Join(root, "tools", "dynalite")
	cli := filepath.Join(dir, "node_modules", "dynalite", "cli.js")
	installed := func() bool {
		return UpToDate(filepath.Join(dir, "node_modules", ".package-lock.json"), filepath.Join(dir, "package-lock.json")) && isFile(cli)
	}
	if installed() {
		return cli, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", errors.New("the DynamoDB emulator (dynalite) needs Node.js and npm: install them (Debian: apt-get install nodejs npm)")
	}
	unlock, err := lock(filepath.Join(dir, ".install.lock"))
	if err != nil {
		return "", fmt.Errorf("dynalite: %w", err)
	}
	defer unlock()
	if installed() { // another process did it while this one waited
		return cli, nil
	}
	if say != nil {
		say("  installing dynalite (npm ci in tools/dynalite)")
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm ci in tools/dynalite: %w\n%s", err, b)
	}
	return cli, nil
}

// CreateHitsTable creates the pattern's table of hits in db as
// deploy/sam/template.yaml defines it: key "path" (a string), on demand.
func CreateHitsTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("path"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("path"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("dynalite: create table %s: %w", name, err)
	}
	return nil
}

// lock takes an exclusive lock on the file at path, made if missing, and
// returns what releases it.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// Dynalite is the spec of a dynalite process on addr, in memory.
func Dynalite(cli, addr string) procs.Spec {
	host, port, _ := net.SplitHostPort(addr)
	return procs.Spec{
		Name: "dynalite", Path: "node",
		Args:  []string{cli, "--host", host, "--port", port, "--createTableMs", "0"},
		Ready: TCPReady(addr),
	}
}

// Goaws is the spec of a goaws process on addr with the config file config.
func Goaws(bin, config, addr string) procs.Spec {
	return procs.Spec{
		Name: "goaws", Path: bin,
		Args:  []string{"-config", config, "-addr", addr},
		Ready: TCPReady(addr),
	}
}

// TCPReady is ready once addr accepts a connection.
func TCPReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// UpToDate reports whether out exists and is newer than every input that
// exists.
func UpToDate(out string, inputs ...string) bool {
	fo, err := os.Stat(out)
	if err != nil {
		return false
	}
	for _, in := range inputs {
		if fi, err := os.Stat(in); err == nil && fi.ModTime().After(fo.ModTime()) {
			return false
		}
	}
	return true
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
