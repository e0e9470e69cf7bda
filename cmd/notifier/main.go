// Command notifier runs tgnotify: the gRPC API (with reflection and health),
// its REST mirror, the Telegram webhook or long poller, and health and
// OpenAPI endpoints. It is configured by environment variables (see
// README.md). With nothing set it runs a self-contained sandbox; a missing
// TELEGRAM_BOT_TOKEN beside production settings refuses to start.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tgnotify/tgnotify/app"
	"github.com/tgnotify/tgnotify/config"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.LookupEnv, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, envNames(os.Environ())); err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}

// envNames returns the NAME part of each NAME=value in environ.
func envNames(environ []string) []string {
	names := make([]string, 0, len(environ))
	for _, kv := range environ {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
			names = append(names, k)
		}
	}
	return names
}

// run loads the configuration, builds the service and serves until ctx ends.
// names lists the environment's variables, so that an unknown TELEGRAM_*
// variable also keeps the sandbox from starting by itself.
func run(ctx context.Context, lookup config.Lookup, names []string) error {
	cfg, err := config.LoadFrom(lookup, names)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
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
