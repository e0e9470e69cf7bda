// Command notifier-bench measures tgnotify on the machine it runs on. It
// starts everything it needs itself — a redis-server child process on a
// free 127.0.0.1 port (from PATH), the fake Bot API of fakebot and the
// service in process (app.New) — sends traffic to 127.0.0.1 only,
// and stops by itself: every loop is bounded in count and in time, and the
// whole run by -timeout.
//
// Scenarios:
//
//	notifier-bench accept   [flags]  Notify accept rate over gRPC vs a bare grpc-go unary server
//	notifier-bench memory   [flags]  Redis memory per linked user
//	notifier-bench delivery [flags]  sends/s with limits off; rate at Telegram's limits
//	notifier-bench reads    [flags]  GetLinkURL and GetStatus rate over gRPC vs the bare echo
//	notifier-bench replicas [flags]  Notify accept rate, 3 in-process replicas on one Redis vs 1
//	notifier-bench fanout   [flags]  one event to 10k linked users at the global limit
//	notifier-bench all      [flags]  accept, memory, delivery in turn (flags prefixed accept-, memory-, delivery-)
//
// Each scenario prints a short human-readable report followed by one JSON
// line (a line starting with '{') for machines. Run "notifier-bench
// <scenario> -h" for the flags. docs/BENCHMARKS.md has the figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: notifier-bench accept|memory|delivery|reads|replicas|fanout|all [flags]

  accept    Notify accept rate over gRPC (real redis-server) vs a bare grpc-go unary echo
  memory    Redis memory per linked user
  delivery  delivery sends/s with limits off, and the rate reached at Telegram's limits
  reads     GetLinkURL and GetStatus rate over gRPC vs the bare echo, linked users
  replicas  Notify accept rate with N in-process replicas on one redis-server vs 1
  fanout    one notification to each of 10k linked users at the global limit
  all       accept, memory and delivery in turn (flags prefixed accept-, memory-, delivery-)

"notifier-bench <scenario> -h" lists a scenario's flags.
`

// run executes one command line and returns the exit code: 0 when it ran
// (targets missed included: the report says so), 1 on failure, 2 on
// bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("notifier-bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	common := struct {
		redisBin string
		aof      bool
		timeout  time.Duration
		cpuprof  string
	}{}
	fs.StringVar(&common.redisBin, "redis-server", "redis-server", "redis-server binary (looked up in PATH)")
	fs.BoolVar(&common.aof, "aof", false, `run redis-server with --appendonly yes --appendfsync everysec (default: --save "" --appendonly no)`)
	fs.DurationVar(&common.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	fs.StringVar(&common.cpuprof, "cpuprofile", "", "write a CPU profile of the whole run (service included) to this file")

	acc := acceptOptions{}
	mem := memoryOptions{}
	del := deliveryOptions{}
	rd := readsOptions{}
	rep := replicasOptions{}
	fan := fanoutOptions{}
	var parts string
	addAccept := func(prefix string) {
		fs.IntVar(&acc.Users, prefix+"users", 1000, "accept: users linked and notified round robin")
		fs.IntVar(&acc.Concurrency, prefix+"concurrency", 64, "accept: concurrent callers (one client connection)")
		fs.DurationVar(&acc.Warmup, prefix+"warmup", 2*time.Second, "accept: warm-up of the echo and of Notify before the measured slices")
		fs.DurationVar(&acc.Duration, prefix+"duration", 10*time.Second, "accept: measured time, for the echo and for Notify each")
		fs.DurationVar(&acc.Slice, prefix+"slice", time.Second, "accept: echo and Notify alternate in windows this long (0: one window each)")
		fs.Int64Var(&acc.MaxRequests, prefix+"max-requests", 20_000_000, "accept: cap on requests per measured slice")
		fs.IntVar(&acc.Workers, prefix+"workers", 0, "accept: NOTIFIER_WORKERS (0: the service's default); 1 isolates the accept path")
		fs.DurationVar(&acc.FakeLatency, prefix+"fake-latency", 0, "accept: delay every fake Bot API answer, to slow background delivery")
	}
	addMemory := func(prefix string) {
		fs.IntVar(&mem.Users, prefix+"users", 100_000, "memory: users linked")
		fs.IntVar(&mem.Concurrency, prefix+"concurrency", 64, "memory: concurrent linkers")
		fs.BoolVar(&mem.Bucketed, prefix+"bucketed", true, "memory: also measure the bucketed-hash alternative layout")
	}
	addDelivery := func(prefix string) {
		fs.StringVar(&parts, prefix+"parts", "both", "delivery: unlimited, limited or both")
		fs.IntVar(&del.Concurrency, prefix+"concurrency", 64, "delivery: concurrent Notify callers")
		fs.DurationVar(&del.DrainTimeout, prefix+"drain-timeout", 2*time.Minute, "delivery: bound on waiting for the last delivery")
		fs.IntVar(&del.Users, prefix+"users", 1000, "delivery, limits off: users (one private chat each)")
		fs.IntVar(&del.Messages, prefix+"messages", 50_000, "delivery, limits off: notifications")
		fs.IntVar(&del.Workers, prefix+"workers", 0, "delivery, limits off: NOTIFIER_WORKERS (0: the service's default)")
		fs.IntVar(&del.LimitedUsers, prefix+"limited-users", 150, "delivery, limits on: users")
		fs.IntVar(&del.LimitedMessages, prefix+"limited-messages", 0, "delivery, limits on: notifications (0: enough for lead + window + 3 s)")
		fs.Float64Var(&del.LimitedRate, prefix+"rate", 30, "delivery, limits on: NOTIFIER_GLOBAL_RATE and the fake's global limit")
		fs.DurationVar(&del.Lead, prefix+"lead", time.Second, "delivery, limits on: skipped after the first delivery")
		fs.DurationVar(&del.Window, prefix+"window", 10*time.Second, "delivery, limits on: measured window")
	}
	switch args[0] {
	case "reads":
		fs.IntVar(&rd.Users, "users", 1000, "reads: users linked (through the store) and read round robin")
		fs.IntVar(&rd.Concurrency, "concurrency", 64, "reads: concurrent callers (one client connection)")
		fs.DurationVar(&rd.Warmup, "warmup", 2*time.Second, "reads: warm-up of each call before the measured slices")
		fs.DurationVar(&rd.Duration, "duration", 10*time.Second, "reads: measured time for each of echo, GetLinkURL, GetStatus")
		fs.DurationVar(&rd.Slice, "slice", time.Second, "reads: the three alternate in windows this long (0: one window each)")
		fs.Int64Var(&rd.MaxRequests, "max-requests", 20_000_000, "reads: cap on requests per measured slice")
	case "replicas":
		fs.IntVar(&rep.Replicas, "replicas", 3, "replicas: replicas in the second phase (the first has 1)")
		fs.IntVar(&rep.Users, "users", 1000, "replicas: users linked (through the store) and notified round robin")
		fs.IntVar(&rep.Concurrency, "concurrency", 64, "replicas: concurrent callers, spread round robin over the replicas")
		fs.DurationVar(&rep.Warmup, "warmup", 2*time.Second, "replicas: warm-up of each phase")
		fs.DurationVar(&rep.Duration, "duration", 10*time.Second, "replicas: measured time of each phase")
		fs.Int64Var(&rep.MaxRequests, "max-requests", 20_000_000, "replicas: cap on requests per phase")
	case "fanout":
		fs.IntVar(&fan.Users, "users", 10_000, "fanout: users linked (through the store), one notification each")
		fs.Float64Var(&fan.Rate, "rate", 500, "fanout: NOTIFIER_GLOBAL_RATE and the fake's global limit (30: Telegram's free limit, 333 s for 10k)")
		fs.BoolVar(&fan.Paid, "paid-broadcast", false, "fanout: NOTIFIER_PAID_BROADCAST=true (the fake then exempts sends from its global limit)")
		fs.IntVar(&fan.Concurrency, "concurrency", 64, "fanout: concurrent Notify callers")
		fs.DurationVar(&fan.DrainTimeout, "drain-timeout", 2*time.Minute, "fanout: bound on waiting beyond users/rate for the last delivery")
	case "accept":
		addAccept("")
	case "memory":
		addMemory("")
	case "delivery":
		addDelivery("")
	case "all":
		addAccept("accept-")
		addMemory("memory-")
		addDelivery("delivery-")
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "notifier-bench: unknown scenario %q\n%s", args[0], usage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "notifier-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	ro := redisOptions{Bin: common.redisBin, AOF: common.aof}
	acc.Redis, mem.Redis, del.Redis = ro, ro, ro
	switch parts {
	case "both", "":
		del.Unlimited, del.Limited = true, true
	case "unlimited":
		del.Unlimited = true
	case "limited":
		del.Limited = true
	default:
		fmt.Fprintf(stderr, "notifier-bench: -parts %q: want unlimited, limited or both\n", parts)
		return 2
	}
	var checks []error
	switch args[0] {
	case "reads":
		checks = append(checks, rd.check())
	case "replicas":
		checks = append(checks, rep.check())
	case "fanout":
		checks = append(checks, fan.check())
	case "accept":
		checks = append(checks, acc.check())
	case "memory":
		checks = append(checks, mem.check())
	case "delivery":
		checks = append(checks, del.check())
	default:
		checks = append(checks, acc.check(), mem.check(), del.check())
	}
	if err := errors.Join(checks...); err != nil {
		fmt.Fprintln(stderr, "notifier-bench:", err)
		return 2
	}

	ctx, cancel := context.WithTimeout(ctx, common.timeout)
	defer cancel()
	if common.cpuprof != "" {
		f, err := os.Create(common.cpuprof)
		if err != nil {
			fmt.Fprintln(stderr, "notifier-bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "notifier-bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rd.Redis, rep.Redis, fan.Redis = ro, ro, ro
	var err error
	switch args[0] {
	case "reads":
		_, err = runReads(ctx, rd, stdout)
	case "replicas":
		_, err = runReplicas(ctx, rep, stdout)
	case "fanout":
		_, err = runFanout(ctx, fan, stdout)
	case "accept":
		_, err = runAccept(ctx, acc, stdout)
	case "memory":
		_, err = runMemory(ctx, mem, stdout)
	case "delivery":
		_, err = runDelivery(ctx, del, stdout)
	case "all":
		if _, err = runAccept(ctx, acc, stdout); err == nil {
			if _, err = runMemory(ctx, mem, stdout); err == nil {
				_, err = runDelivery(ctx, del, stdout)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "notifier-bench %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
