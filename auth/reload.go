package auth

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
)

// WatchSIGHUP reloads the keys file at path into a whenever the process
// receives SIGHUP, until ctx is done. The signal handler is installed
// before WatchSIGHUP returns; the reloading runs in its own goroutine.
// Reloading swaps the key set atomically, so connections and calls in
// flight are not disturbed. A file that fails to load leaves the old keys
// in force and is logged as an error. With an empty path (open mode)
// WatchSIGHUP does nothing. A nil log discards logs.
func WatchSIGHUP(ctx context.Context, path string, a *Authenticator, log *zap.Logger) {
	if path == "" {
		return
	}
	if log == nil {
		log = zap.NewNop()
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				Reload(path, a, log)
			}
		}
	}()
}

// Reload loads the keys file at path and swaps it into a. On error it keeps
// the old keys, logs the error and returns it. It logs the names of the
// keys loaded, never their hashes.
func Reload(path string, a *Authenticator, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	ks, err := LoadFile(path)
	if err != nil {
		log.Error("reloading API keys failed; keeping the previous keys", zap.Error(err))
		return err
	}
	a.Swap(ks)
	log.Info("API keys reloaded", zap.String("file", path), zap.Int("keys", ks.Len()), zap.Strings("names", ks.Names()))
	return nil
}
