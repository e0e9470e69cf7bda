// Command notifier runs tgnotify: the gRPC API (with reflection and health),
// its REST mirror, the Telegram webhook or long poller, and health and
// OpenAPI endpoints. It is configured by environment variables (see
// README.md); with no TELEGRAM_BOT_TOKEN it runs a self-contained sandbox.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tgnotify/tgnotify/server"
)

func main() {
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
