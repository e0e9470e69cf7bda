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
//	notifier-bench events   [flags]  events/s one WatchEvents stream keeps up with; Redis memory per event
//	notifier-bench broadcast [flags] Broadcast call latency and memory; delivery at the limit beside transactional Notifies
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

const usage = `usage: notifier-bench accept|memory|delivery|reads|replicas|fanout|events|broadcast|all [flags]

  accept    Notify accept rate over gRPC (real redis-server) vs a bare grpc-go unary echo
  memory    Redis memory per linked user
  delivery  delivery sends/s with limits off, and the rate reached at Telegram's limits
  reads     GetLinkURL and GetStatus rate over gRPC vs the bare echo, linked users
  replicas  Notify accept rate with N in-process replicas on one redis-server vs 1
  fanout    one notification to each of 10k linked users at the global limit
  events    events/s one WatchEvents stream keeps up with, and Redis memory per retained event
  broadcast Broadcast call latency and Redis memory (100k ids, all_linked); delivery at the limit with transactional Notifies beside it
  all       accept, memory and delivery in turn (flags prefixed accept-, memory-, delivery-)

"notifier-bench <scenario> -h" lists a scenario's flags.
`

// scenario is one subcommand: its options bind their flags (each name
// prefixed by prefix), validate themselves and run against a redis-server
// configured by ro.
type scenario interface {
	flags(fs *flag.FlagSet, prefix string)
	validate() error
	run(ctx context.Context, ro redisOptions, w io.Writer) error
}

// newScenario returns the options of the named scenario, or nil.
func newScenario(name string) scenario {
	switch name {
	case "accept":
		return &acceptOptions{}
	case "memory":
		return &memoryOptions{}
	case "delivery":
		return &deliveryOptions{}
	case "reads":
		return &readsOptions{}
	case "replicas":
		return &replicasOptions{}
	case "fanout":
		return &fanoutOptions{}
	case "events":
		return &eventsOptions{}
	case "broadcast":
		return &broadcastOptions{}
	}
	return nil
}

// allScenarios are what "all" runs, in turn, their flags prefixed "<name>-".
var allScenarios = []string{"accept", "memory", "delivery"}

// run executes one command line and returns the exit code: 0 when it ran
// (targets missed included: the report says so), 1 on failure, 2 on
// bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fs := flag.NewFlagSet("notifier-bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ro redisOptions
	var timeout time.Duration
	var cpuprof string
	fs.StringVar(&ro.Bin, "redis-server", "redis-server", "redis-server binary (looked up in PATH)")
	fs.BoolVar(&ro.AOF, "aof", false, `run redis-server with --appendonly yes --appendfsync everysec (default: --save "" --appendonly no)`)
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "bound on the whole run")
	fs.StringVar(&cpuprof, "cpuprofile", "", "write a CPU profile of the whole run (service included) to this file")

	names, prefixed := []string{args[0]}, false
	if args[0] == "all" {
		names, prefixed = allScenarios, true
	}
	var scs []scenario
	for _, name := range names {
		sc := newScenario(name)
		if sc == nil {
			fmt.Fprintf(stderr, "notifier-bench: unknown scenario %q\n%s", args[0], usage)
			return 2
		}
		prefix := ""
		if prefixed {
			prefix = name + "-"
		}
		sc.flags(fs, prefix)
		scs = append(scs, sc)
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
	var checks []error
	for _, sc := range scs {
		checks = append(checks, sc.validate())
	}
	if err := errors.Join(checks...); err != nil {
		fmt.Fprintln(stderr, "notifier-bench:", err)
		return 2
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if cpuprof != "" {
		stop, err := startCPUProfile(cpuprof)
		if err != nil {
			fmt.Fprintln(stderr, "notifier-bench:", err)
			return 1
		}
		defer stop()
	}
	for _, sc := range scs {
		if err := sc.run(ctx, ro, stdout); err != nil {
			fmt.Fprintf(stderr, "notifier-bench %s: %v\n", args[0], err)
			return 1
		}
	}
	return 0
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
