// Command notifier runs tgnotify: the gRPC API (with reflection and health),
// its REST mirror, the Telegram webhook or long poller, and health and
// OpenAPI endpoints. It is configured by environment variables (see
// README.md); with no TELEGRAM_BOT_TOKEN it runs a self-contained sandbox.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tgnotify/tgnotify/server"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.LookupEnv))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}

// run loads the configuration, builds the service and serves until ctx ends.
func run(ctx context.Context, lookup server.Lookup) error {
	cfg, err := server.LoadConfig(lookup)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	app, err := server.NewApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	return app.Run(ctx)
}

// newLogger builds a JSON (production) or console (development) logger.
func newLogger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("NOTIFIER_LOG_LEVEL: %w", err)
	}
	zc := zap.NewProductionConfig()
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.DisableStacktrace = true
	zc.Sampling = nil
	return zc.Build()
}

// healthcheck asks the local HTTP listener's /readyz, for container health
// checks in images without curl. It returns the process exit code.
func healthcheck(lookup server.Lookup) int {
	addr := ":8080"
	if v, ok := lookup("NOTIFIER_HTTP_ADDR"); ok && v != "" {
		addr = v
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: /readyz answered", resp.Status)
		return 1
	}
	return 0
}
