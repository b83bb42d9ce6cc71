package main

import (
	"strings"
	"testing"
	"time"
)

// TestSettingsCheck: the settings Lambda would refuse fail at start, and
// -load raises the throttle and moves to free ports, except where the
// command line says otherwise.
func TestSettingsCheck(t *testing.T) {
	base := func() settings {
		return settings{api: "127.0.0.1:3000", jaegerUI: "127.0.0.1:16686", otlp: "127.0.0.1:4318", goaws: "127.0.0.1:4100", dynalite: "127.0.0.1:4567",
			visibility: 10, consumer: 10 * time.Second, rate: 100, burst: 200, outDir: "out/local", load: loadSettings{inFlight: 50, poison: 10}}
	}
	tests := []struct {
		name    string
		edit    func(*settings)
		set     []string
		wantErr string
		want    func(t *testing.T, cfg settings)
	}{
		{name: "defaults", edit: func(*settings) {}, want: func(t *testing.T, cfg settings) {
			if cfg.api != "127.0.0.1:3000" || cfg.rate != 100 {
				t.Errorf("without -load: api %s, rate %v; want the defaults", cfg.api, cfg.rate)
			}
		}},
		{name: "visibility below the consumer's timeout", edit: func(c *settings) { c.visibility = 1 }, wantErr: "Lambda requires"},
		{name: "both short", edit: func(c *settings) { c.visibility, c.consumer = 3, 2*time.Second }},
		{name: "load without flags", edit: func(c *settings) { c.load.requests = 300 }, want: func(t *testing.T, cfg settings) {
			if cfg.rate != 10000 || cfg.burst != 5000 {
				t.Errorf("throttle %v/%d, want API Gateway's default 10000/5000", cfg.rate, cfg.burst)
			}
			for _, addr := range []string{cfg.api, cfg.jaegerUI, cfg.otlp, cfg.goaws, cfg.dynalite} {
				if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":3000") || strings.HasSuffix(addr, ":4318") {
					t.Errorf("address %s, want a free loopback port", addr)
				}
			}
			if cfg.outDir != "out/load" {
				t.Errorf("out %s, want out/load", cfg.outDir)
			}
		}},
		{name: "load with flags", edit: func(c *settings) { c.load.requests, c.rate = 300, 5 }, set: []string{"rate", "api"}, want: func(t *testing.T, cfg settings) {
			if cfg.rate != 5 || cfg.burst != 5000 || cfg.api != "127.0.0.1:3000" {
				t.Errorf("rate %v, burst %d, api %s; want -rate and -api as given, the burst raised", cfg.rate, cfg.burst, cfg.api)
			}
		}},
		{name: "load with nothing in flight", edit: func(c *settings) { c.load.requests, c.load.inFlight = 300, 0 }, wantErr: "-in-flight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.edit(&cfg)
			set := map[string]bool{}
			for _, f := range tt.set {
				set[f] = true
			}
			err := cfg.check(set)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("check = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				tt.want(t, cfg)
			}
		})
	}
}
