package redistest_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestStartStopRestart(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{AOF: true})
	c := srv.Client(t)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if srv.Running() {
		t.Fatal("Running after Stop")
	}
	srv.Restart()
	if got, err := c.Get(t.Context(), "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k after restart = %q, %v; want v kept by the AOF", got, err)
	}
}

func TestLaunchWithoutTB(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not on PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv, err := redistest.Launch(ctx, redistest.Options{AOF: true, Fsync: "everysec"})
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	if got, err := c.ConfigGet(ctx, "appendfsync").Result(); err != nil || got["appendfsync"] != "everysec" {
		t.Fatalf("CONFIG GET appendfsync = %v, %v; want everysec", got, err)
	}
	if err := srv.TryRestart(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after TryRestart: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() {
		t.Fatal("Running after Close")
	}
}

func TestLaunchMissingBinary(t *testing.T) {
	_, err := redistest.Launch(t.Context(), redistest.Options{Bin: "no-such-redis-server-binary"})
	if err == nil {
		t.Fatal("Launch with a missing binary succeeded")
	}
}
