package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// requireRedis skips without redis-server on PATH (fails under CI=true).
func requireRedis(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			tb.Fatalf("redis-server not on PATH and CI=true: %v", err)
		}
		tb.Skip("redis-server not on PATH: SKIPPING notifier-bench tests")
	}
}

// jsonLines decodes the JSON lines of a report and checks each names
// scenario.
func jsonLines(t *testing.T, out, scenario string) {
	t.Helper()
	n := 0
	for line := range strings.Lines(out) {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		if m["scenario"] != scenario {
			t.Fatalf("JSON line scenario = %v, want %s", m["scenario"], scenario)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d JSON lines, want 1:\n%s", n, out)
	}
}

// TestScenariosSmoke runs every scenario at a tiny size (a few seconds in
// all) so the tool keeps working; it checks that each runs and reports,
// not the figures.
func TestScenariosSmoke(t *testing.T) {
	requireRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("accept", func(t *testing.T) {
		var out bytes.Buffer
		res, err := runAccept(ctx, acceptOptions{
			Users: 4, Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 250 * time.Millisecond, MaxRequests: 100_000,
		}, &out)
		if err != nil {
			t.Fatal(err)
		}
		if res.Echo.Requests == 0 || res.Notify.Requests == 0 || res.Notify.Errors != 0 || res.Ratio <= 0 {
			t.Fatalf("echo %+v, notify %+v, ratio %v", res.Echo, res.Notify, res.Ratio)
		}
		jsonLines(t, out.String(), "accept")
	})

	t.Run("memory", func(t *testing.T) {
		var out bytes.Buffer
		res, err := runMemory(ctx, memoryOptions{Users: 300, Concurrency: 8, Bucketed: true}, &out)
		if err != nil {
			t.Fatal(err)
		}
		// 300 links and 300 chat index entries, in at most 300 buckets of
		// each kind; the event log (a USER_LINKED entry per link) is
		// measured apart and left out of the shapes.
		fields := int64(0)
		for _, s := range res.Shapes {
			fields += s.Fields
		}
		if res.Keys < 2 || res.Keys > 600 || fields != 600 || res.BytesPerUser <= 0 || res.BucketedPerUser <= 0 || len(res.Shapes) != 2 || res.EventLogBytes <= 0 {
			t.Fatalf("keys %d, fields %d, bytes/user %v, event log %d B, bucketed %v, shapes %+v", res.Keys, fields, res.BytesPerUser, res.EventLogBytes, res.BucketedPerUser, res.Shapes)
		}
		jsonLines(t, out.String(), "memory")
	})

	t.Run("delivery", func(t *testing.T) {
		var out bytes.Buffer
		res, err := runDelivery(ctx, deliveryOptions{
			Unlimited: true, Limited: true, Concurrency: 8, DrainTimeout: 20 * time.Second,
			Users: 10, Messages: 200,
			LimitedUsers: 30, LimitedMessages: 20, LimitedRate: 30, Lead: 100 * time.Millisecond, Window: 300 * time.Millisecond,
		}, &out)
		if err != nil {
			t.Fatal(err)
		}
		if u := res.Unlimited; u.Delivered != 200 || u.SendsPerSec <= 0 {
			t.Fatalf("limits off: %+v", u)
		}
		if l := res.Limited; l.Delivered != 20 || l.WindowSends == 0 {
			t.Fatalf("limits on: %+v", l)
		}
		jsonLines(t, out.String(), "delivery")
	})

	t.Run("reads", func(t *testing.T) {
		var out bytes.Buffer
		res, err := runReads(ctx, readsOptions{
			Users: 20, Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond, MaxRequests: 100_000,
		}, &out)
		if err != nil {
			t.Fatal(err)
		}
		if res.Echo.Requests == 0 || res.GetLinkURL.Requests == 0 || res.GetStatus.Requests == 0 ||
			res.GetLinkURL.Errors != 0 || res.GetStatus.Errors != 0 {
			t.Fatalf("echo %+v, GetLinkURL %+v, GetStatus %+v", res.Echo, res.GetLinkURL, res.GetStatus)
		}
		jsonLines(t, out.String(), "reads")
	})

	t.Run("replicas", func(t *testing.T) {
		var out bytes.Buffer
		res, err := runReplicas(ctx, replicasOptions{
			Replicas: 2, Users: 10, Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond, MaxRequests: 100_000,
		}, &out)
		if err != nil {
			t.Fatal(err)
		}
		if res.One.Notify.Requests == 0 || res.Many.Notify.Requests == 0 || res.One.Notify.Errors != 0 || res.Many.Notify.Errors != 0 || res.Ratio <= 0 {
			t.Fatalf("one %+v, many %+v", res.One, res.Many)
		}
		jsonLines(t, out.String(), "replicas")
	})

	t.Run("fanout", func(t *testing.T) {
		var out bytes.Buffer
		res, err := runFanout(ctx, fanoutOptions{Users: 100, Rate: 200, Concurrency: 8, DrainTimeout: 20 * time.Second}, &out)
		if err != nil {
			t.Fatal(err)
		}
		if res.Delivered != 100 || res.Lost != 0 || res.Duplicates != 0 || res.SpanS <= 0 {
			t.Fatalf("fanout: %+v", res)
		}
		jsonLines(t, out.String(), "fanout")
	})

	t.Run("events", func(t *testing.T) {
		var out bytes.Buffer
		res, err := runEvents(ctx, eventsOptions{
			Rates: []float64{200, 400}, Step: 300 * time.Millisecond, MaxLag: 5 * time.Second, DrainTimeout: 10 * time.Second,
			Concurrency: 4, MemoryEvents: 500,
		}, &out)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Steps) != 2 {
			t.Fatalf("steps %+v", res.Steps)
		}
		for _, s := range res.Steps {
			if s.Appended == 0 || s.Received != s.Appended || !s.Bounded || s.LagMaxMs <= 0 {
				t.Fatalf("step %+v", s)
			}
		}
		if res.MaxBoundedPerS <= 0 {
			t.Fatalf("max bounded rate %v", res.MaxBoundedPerS)
		}
		if m := res.Memory; m == nil || m.Events != 500 || m.BytesPerEvent <= 0 || m.StreamMemoryUsage <= 0 || m.Shape["t"] != "3" {
			t.Fatalf("memory %+v", res.Memory)
		}
		jsonLines(t, out.String(), "events")
	})
}

// TestUsage checks the command line without starting anything.
func TestUsage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"help"}, 0},
		{[]string{"nope"}, 2},
		{[]string{"accept", "-h"}, 0},
		{[]string{"accept", "-users", "0"}, 2},
		{[]string{"memory", "-concurrency", "0"}, 2},
		{[]string{"delivery", "-parts", "some"}, 2},
		{[]string{"delivery", "-rate", "5000"}, 2},
		{[]string{"delivery", "-limited-users", "10"}, 2},
		{[]string{"all", "-delivery-messages", "0"}, 2},
		{[]string{"memory", "extra"}, 2},
		{[]string{"reads", "-concurrency", "0"}, 2},
		{[]string{"replicas", "-replicas", "1"}, 2},
		{[]string{"fanout", "-rate", "5000"}, 2},
		{[]string{"fanout", "-h"}, 0},
		{[]string{"events", "-rates", "100,x"}, 2},
		{[]string{"events", "-rates", "0"}, 2},
		{[]string{"events", "-step", "0s"}, 2},
		{[]string{"events", "-memory-events", "-1"}, 2},
		{[]string{"events", "-rates", "", "-memory-events", "0"}, 2},
		{[]string{"events", "-h"}, 0},
	} {
		var out, errOut bytes.Buffer
		if got := run(ctx, tc.args, &out, &errOut); got != tc.code {
			t.Errorf("run %q = %d, want %d (stderr %q)", tc.args, got, tc.code, errOut.String())
		}
	}
}

// benchService starts the service with users linked, or skips.
func benchService(b *testing.B, users int) (*service, []benchUser) {
	b.Helper()
	requireRedis(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := startService(ctx, serviceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	us := makeUsers(users)
	if err := svc.linkUsers(ctx, us, 32); err != nil {
		b.Fatal(err)
	}
	return svc, us
}

// parallelism makes RunParallel use about 64 goroutines, like the accept
// scenario's default.
func parallelism() int { return max(1, 64/runtime.GOMAXPROCS(0)) }

// BenchmarkNotifyGRPC measures Notify over gRPC against the in-process
// service with a real redis-server, 64 callers on one connection, 200
// linked users round robin. Delivery workers run meanwhile, at the
// default global limit (30/s).
func BenchmarkNotifyGRPC(b *testing.B) {
	svc, users := benchService(b, 200)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(parallelism())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			u := users[i%int64(len(users))]
			if _, err := svc.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.ID, Text: benchTextPrefix + strconv.FormatInt(i, 10)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkEchoGRPC is BenchmarkNotifyGRPC's yardstick: the health
// service's Check on a bare grpc.Server, same client settings.
func BenchmarkEchoGRPC(b *testing.B) {
	echo, err := startEcho()
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Stop()
	conn, err := dial(echo.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx := context.Background()
	b.SetParallelism(parallelism())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
