package store_test

// Tests of the Redis Sentinel and Redis Cluster deployments, against real
// redis-server processes on loopback ports (see redistest). They skip when
// redis-server is not on PATH, and fail instead when CI=true.

import (
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/store/storetest"
)

// Passwords of the protected topologies; no error may contain them.
const (
	dataPassword     = "d4ta-s3cret"
	sentinelPassword = "s3ntinel-s3cret"
)

// openTopology opens rawURL with OpenRedis and returns a store under
// prefix; the store (and its client) is closed when t ends.
func openTopology(t *testing.T, rawURL, prefix string) *store.Redis {
	t.Helper()
	c, err := store.OpenRedis(qctx(t), rawURL)
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	st := store.NewRedis(c, prefix)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// runTopologyContract runs the store, queue and limiter contract suites
// against the Redis at rawURL, each subtest under its own prefix that
// starts with KeyPrefix(rawURL) (so in Cluster every key carries the same
// hash tag, as in production).
func runTopologyContract(t *testing.T, rawURL string) {
	base := store.KeyPrefix(rawURL)
	var n atomic.Int64
	prefix := func(kind string) string { return fmt.Sprintf("%s:%s%d", base, kind, n.Add(1)) }
	t.Run("store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openTopology(t, rawURL, prefix("s")) })
	})
	t.Run("store of another bot", func(t *testing.T) {
		// A bot but "default" keeps its keys under its own hash tag.
		storetest.Run(t, func(t *testing.T) store.Store {
			return openTopology(t, rawURL, fmt.Sprintf("%s:s%d", store.BotPrefix(rawURL, "shop"), n.Add(1)))
		})
	})
	t.Run("queue", func(t *testing.T) {
		runQueueContract(t, func(t *testing.T) queue { return openTopology(t, rawURL, prefix("q")).Queue() })
	})
	t.Run("events", func(t *testing.T) {
		runEventsContract(t, func(t *testing.T) evBackend {
			st := openTopology(t, rawURL, prefix("ev"))
			return evBackend{st: st, q: st.Queue()}
		})
	})
	t.Run("limiter", func(t *testing.T) {
		runLimiterContract(t, []limiterBackend{{"redis", func(t *testing.T) (limiter, limiter) {
			p := prefix("rl")
			return openTopology(t, rawURL, p).Limiter(), openTopology(t, rawURL, p).Limiter()
		}}})
	})
}

// wantOpenFails checks that OpenRedis(rawURL) fails with ErrUnavailable
// (when unavailable) or without it, and that the error names no password.
func wantOpenFails(t *testing.T, rawURL string, unavailable bool) {
	t.Helper()
	c, err := store.OpenRedis(qctx(t), rawURL)
	if err == nil {
		_ = c.Close()
		t.Fatalf("OpenRedis succeeded, want an error")
	}
	for _, pw := range []string{dataPassword, sentinelPassword, "wrong-" + dataPassword} {
		if strings.Contains(err.Error(), pw) {
			t.Fatalf("error leaks a password: %v", err)
		}
	}
	if got := errors.Is(err, store.ErrUnavailable); got != unavailable {
		t.Fatalf("OpenRedis error %v: errors.Is(ErrUnavailable) = %v, want %v", err, got, unavailable)
	}
	t.Logf("error: %v", err)
}

func TestSentinelContract(t *testing.T) {
	set := redistest.StartSentinelWith(t, redistest.SentinelOptions{
		Password: dataPassword, SentinelPassword: sentinelPassword,
	})
	url := set.URL()
	if got := store.KeyPrefix(url); got != store.DefaultRedisPrefix {
		t.Fatalf("KeyPrefix(sentinel URL) = %q, want %q", got, store.DefaultRedisPrefix)
	}
	runTopologyContract(t, url)

	t.Run("wrong passwords", func(t *testing.T) {
		wrongData := strings.Replace(url, dataPassword, "wrong-"+dataPassword, 1)
		wantOpenFails(t, wrongData, true)
		noSentinelPass := strings.Replace(url, "sentinel_password="+sentinelPassword, "dial_timeout=1s", 1)
		wantOpenFails(t, noSentinelPass, true)
	})
	t.Run("unknown master name", func(t *testing.T) {
		wantOpenFails(t, strings.Replace(url, "/"+redistest.MasterName, "/nosuchmaster", 1), true)
	})
}

func TestClusterContract(t *testing.T) {
	cl := redistest.StartClusterWith(t, redistest.ClusterOptions{Password: dataPassword})
	url := cl.URL()
	if got := store.KeyPrefix(url); got != store.ClusterRedisPrefix {
		t.Fatalf("KeyPrefix(cluster URL) = %q, want %q", got, store.ClusterRedisPrefix)
	}
	c, err := store.OpenRedis(t.Context(), url)
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("OpenRedis(cluster URL) = %T, want *redis.ClusterClient", c)
	}
	_ = c.Close()

	runTopologyContract(t, url)

	t.Run("one hash slot", func(t *testing.T) {
		// NewRedis wraps an untagged prefix in a hash tag for a cluster
		// client: everything the store, queue, limiter and leases write is
		// then named {prefix}:... and lands in one slot.
		raw := cl.Client(t)
		prefix := fmt.Sprintf("tgnslot%d", time.Now().UnixNano())
		st := store.NewRedis(cl.Client(t), prefix)
		ctx := qctx(t)
		now := time.Now()
		if err := st.PutLinkToken(ctx, store.LinkToken{Token: "tok", UserID: "u1", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConsumeLinkToken(ctx, "tok", 7, "alice", now); err != nil {
			t.Fatal(err)
		}
		if ok, err := st.AcquireLease(ctx, "poller", "a", time.Minute); err != nil || !ok {
			t.Fatalf("AcquireLease = %v, %v", ok, err)
		}
		if err := st.SetPollOffsetLeased(ctx, "poller", "a", 3); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClaimUpdate(ctx, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
		q := st.Queue()
		mustEnqueue(t, q, notif("n1", "u1", 7, now))
		c := mustClaim(t, q, now)
		mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: now}, now)
		l := st.Limiter()
		if _, _, err := l.Acquire(ctx, "global", 10, 1, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := l.Pause(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}

		for _, k := range []string{"links:" + bucketOf("u1"), "chats:" + bucketOf("7"), "lease:poller", "poll:offset", "upd:1",
			"n:n1", "us:u1", "rl:global", "pause", "events"} {
			if ex, err := raw.Exists(ctx, "{"+prefix+"}:"+k).Result(); err != nil || ex != 1 {
				t.Errorf("key {%s}:%s exists = %d, %v", prefix, k, ex, err)
			}
		}
		if _, was, err := st.UnlinkUser(ctx, "u1"); err != nil || !was {
			t.Fatalf("UnlinkUser = %v, %v", was, err)
		}
		if evs, _, err := st.Read(ctx, "", events.Filter{}, 10); err != nil || len(evs) != 3 {
			t.Fatalf("Read = %+v, %v; want linked, sent, unlinked", evs, err)
		}
		if ex, err := raw.Exists(ctx, "{"+prefix+"}:ul:u1").Result(); err != nil || ex != 1 {
			t.Errorf("key {%s}:ul:u1 exists = %d, %v", prefix, ex, err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		wantOpenFails(t, strings.Replace(url, dataPassword, "wrong-"+dataPassword, 1), true)
	})
}

func TestSentinelFailover(t *testing.T) {
	set := redistest.StartSentinel(t)
	ctx := t.Context()
	c, err := store.OpenRedis(ctx, set.URL())
	if err != nil {
		t.Fatalf("OpenRedis(%s): %v", set.URL(), err)
	}
	st := store.NewRedis(c, store.KeyPrefix(set.URL()))
	t.Cleanup(func() { _ = st.Close() })

	if err := st.PutLinkToken(ctx, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(ctx, "t1", 42, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	// Wait until the replica has the link, so that the failover keeps it.
	if n, err := c.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v", n, err)
	}
	old := set.MasterAddr(t)

	start := time.Now()
	primary := set.Failover(t)
	t.Logf("failover %s -> %s took %v", old, primary, time.Since(start))

	// The client follows the sentinels to the new primary; writes may fail
	// (or land on the demoted primary) for a moment, so retry, bounded.
	direct := set.DataClient(t, primary)
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 1; ; attempt++ {
		err := st.SetPollOffset(ctx, int64(attempt))
		if err == nil {
			// The write must have reached the new primary.
			if got, gerr := direct.Get(ctx, store.KeyPrefix(set.URL())+":poll:offset").Int64(); gerr == nil && got == int64(attempt) {
				t.Logf("write after failover succeeded on attempt %d, %v after the failover", attempt, time.Since(start))
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write reached the new primary %s within 20s; last error: %v", primary, err)
		}
		time.Sleep(50 * time.Millisecond) // retry interval, not synchronisation
	}
	link, err := st.GetLink(ctx, "u1")
	if err != nil || link.ChatID != 42 || link.Username != "alice" {
		t.Fatalf("GetLink after failover = %+v, %v; want the link made before", link, err)
	}
	if err := st.PutLinkToken(ctx, store.LinkToken{Token: "t2", UserID: "u2", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if l, err := st.ConsumeLinkToken(ctx, "t2", 43, "bob", time.Now()); err != nil || l.UserID != "u2" {
		t.Fatalf("ConsumeLinkToken after failover = %+v, %v", l, err)
	}
	if users, err := st.UnlinkChat(ctx, 43, events.ReasonStop); err != nil || len(users) != 1 {
		t.Fatalf("UnlinkChat after failover = %v, %v", users, err)
	}
}

func TestOpenRedisURLForms(t *testing.T) {
	const pw, spw = dataPassword, sentinelPassword
	// Nothing listens on port 1: a URL that parses fails to connect
	// (ErrUnavailable); one that does not parse fails without it.
	tests := []struct {
		name        string
		url         string
		prefix      string
		unavailable bool // the URL is valid
	}{
		{"single", "redis://u:" + pw + "@127.0.0.1:1/2?dial_timeout=200ms&max_retries=-1", "tgn", true},
		{"unix socket", "unix://u:" + pw + "@/nonexistent/redis.sock?db=1&max_retries=-1", "tgn", true},
		{"single TLS", "rediss://:" + pw + "@127.0.0.1:1?max_retries=-1", "tgn", true},
		{"sentinel", "redis-sentinel://u:" + pw + "@127.0.0.1:1,127.0.0.1:2/mymaster?db=3&sentinel_password=" + spw + "&dial_timeout=200ms&dialer_retries=1&max_retries=-1", "tgn", true},
		{"sentinel default port", "redis-sentinel://127.0.0.1/mymaster?dialer_retries=1&max_retries=-1", "tgn", true},
		{"sentinel TLS", "rediss-sentinel://:" + pw + "@127.0.0.1:1/mymaster?dialer_retries=1&max_retries=-1", "tgn", true},
		{"cluster", "redis-cluster://u:" + pw + "@127.0.0.1:1,127.0.0.1:2?dial_timeout=200ms&max_retries=-1&dialer_retries=1", "{tgn}", true},
		{"cluster addr param", "redis-cluster://:" + pw + "@127.0.0.1:1?addr=[::1]:2&max_retries=-1&dialer_retries=1", "{tgn}", true},
		{"cluster TLS upper-case scheme", "REDISS-CLUSTER://:" + pw + "@127.0.0.1:1?max_retries=-1&dialer_retries=1", "{tgn}", true},

		{"unknown scheme", "http://u:" + pw + "@127.0.0.1:1/0", "tgn", false},
		{"unparsable", "redis://u:" + pw + "@127.0.0.1:bad port/0", "tgn", false},
		{"bad db", "redis://u:" + pw + "@127.0.0.1:1/notanumber", "tgn", false},
		{"sentinel without master", "redis-sentinel://u:" + pw + "@127.0.0.1:1?sentinel_password=" + spw, "tgn", false},
		{"sentinel with two path elements", "redis-sentinel://u:" + pw + "@127.0.0.1:1/a/b", "tgn", false},
		{"sentinel bad db", "redis-sentinel://u:" + pw + "@127.0.0.1:1/m?db=x&sentinel_password=" + spw, "tgn", false},
		{"sentinel empty address", "redis-sentinel://u:" + pw + "@127.0.0.1:1,/m", "tgn", false},
		{"sentinel bad port", "redis-sentinel://u:" + pw + "@127.0.0.1:1,127.0.0.1:0/m", "tgn", false},
		{"sentinel unknown option", "redis-sentinel://u:" + pw + "@127.0.0.1:1/m?sentinel_password=" + spw + "&bogus=" + pw, "tgn", false},
		{"cluster with db", "redis-cluster://u:" + pw + "@127.0.0.1:1/3", "{tgn}", false},
		{"cluster no host", "redis-cluster://u:" + pw + "@/", "{tgn}", false},
		{"cluster unknown option", "redis-cluster://u:" + pw + "@127.0.0.1:1?password=" + pw + "&x=1", "{tgn}", false},
		{"cluster bad timeout", "redis-cluster://u:" + pw + "@127.0.0.1:1?dial_timeout=" + pw, "{tgn}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.KeyPrefix(tt.url); got != tt.prefix {
				t.Errorf("KeyPrefix = %q, want %q", got, tt.prefix)
			}
			if err := store.ValidateRedisURL(tt.url); (err == nil) != tt.unavailable {
				t.Errorf("ValidateRedisURL = %v, want valid %v", err, tt.unavailable)
			}
			start := time.Now()
			wantOpenFails(t, tt.url, tt.unavailable)
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("OpenRedis took %v", d)
			}
		})
	}
}
