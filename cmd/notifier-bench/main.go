// Command notifier-bench measures tgnotify on the machine it runs on. It
// starts everything it needs itself — a redis-server child process on a
// free 127.0.0.1 port (from PATH), the fake Bot API of telegramtest and the
// service in process (server.NewApp) — sends traffic to 127.0.0.1 only,
// and stops by itself: every loop is bounded in count and in time, and the
// whole run by -timeout.
//
// Scenarios:
//
//	notifier-bench accept   [flags]  Notify accept rate over gRPC vs a bare grpc-go unary server
//	notifier-bench memory   [flags]  Redis memory per linked user
//	notifier-bench delivery [flags]  sends/s with limits off; rate at Telegram's limits
//	notifier-bench all      [flags]  the three in turn (flags prefixed accept-, memory-, delivery-)
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

const usage = `usage: notifier-bench accept|memory|delivery|all [flags]

  accept    Notify accept rate over gRPC (real redis-server) vs a bare grpc-go unary echo
  memory    Redis memory per linked user
  delivery  delivery sends/s with limits off, and the rate reached at Telegram's limits
  all       all three in turn (flags prefixed accept-, memory-, delivery-)

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
	var err error
	switch args[0] {
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
