// Command goaws runs the goaws SNS and SQS emulator (the version pinned in
// this module's go.mod) for the local runner. It does what goaws's own
// command (app/cmd) does, with two differences that matter on a laptop: it
// listens on 127.0.0.1 only (goaws's command always binds every interface,
// which would open the emulator to the network), and a config file that
// cannot be read is an error, where goaws's command quietly starts with its
// defaults.
//
//	goaws -config goaws.yaml -addr 127.0.0.1:4100 [environment]
//
// The environment is the top-level key of the config file; default "Local".
// The port comes from -addr, not from the file.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/Admiral-Piett/goaws/app/conf"
	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/router"
	log "github.com/sirupsen/logrus"
)

func main() {
	config := flag.String("config", "", "the goaws config file (required)")
	addr := flag.String("addr", "127.0.0.1:4100", "the address to listen on")
	level := flag.String("loglevel", "warning", "goaws's log level")
	flag.Parse()
	if err := run(*config, *addr, *level, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "goaws: %v\n", err)
		os.Exit(1)
	}
}

func run(config, addr, level, env string) error {
	if config == "" {
		return fmt.Errorf("-config is required")
	}
	if _, err := os.Stat(config); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if env == "" {
		env = "Local"
	}
	lvl, err := log.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("-loglevel: %w", err)
	}
	log.SetLevel(lvl)
	log.SetOutput(os.Stderr)

	conf.LoadYamlConfig(config, env)
	// goaws moves messages back from in flight once their visibility
	// timeout ends (and so to the dead-letter queue) in this loop.
	go gosqs.PeriodicTasks(time.Second, make(chan bool))

	srv := &http.Server{Addr: addr, Handler: router.New(), ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
