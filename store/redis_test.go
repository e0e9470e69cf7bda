package store_test

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/events"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/store/storetest"
)

func TestRedisContract(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		prefix := fmt.Sprintf("test%d", n.Add(1))
		st := store.NewRedis(srv.Client(t), prefix)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

// TestRedisContractBotPrefix: a bot's store ({tgn:<bot>} prefix) on a
// single node passes the store contract beside the default bot's.
func TestRedisContractBotPrefix(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		st := store.NewRedis(srv.Client(t), fmt.Sprintf("%s:test%d", store.BotPrefix(srv.URL(), "shop"), n.Add(1)))
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

// faultClient returns a client with short timeouts and no retries so that
// an outage surfaces quickly.
func faultClient(t *testing.T, addr string) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
		PoolTimeout:  200 * time.Millisecond,
		MaxRetries:   -1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// storeCalls exercises every Store method that touches Redis.
func storeCalls(st store.Store) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"PutLinkToken": func(ctx context.Context) error {
			return st.PutLinkToken(ctx, store.LinkToken{Token: "t2", UserID: "u2", ExpiresAt: time.Now().Add(time.Hour)})
		},
		"UserLinkToken": func(ctx context.Context) error { _, err := st.UserLinkToken(ctx, "u1"); return err },
		"ConsumeLinkToken": func(ctx context.Context) error {
			_, err := st.ConsumeLinkToken(ctx, "t1", 1, "a", time.Now())
			return err
		},
		"GetLink":        func(ctx context.Context) error { _, err := st.GetLink(ctx, "u1"); return err },
		"UpdateChatID":   func(ctx context.Context) error { _, err := st.UpdateChatID(ctx, 1, 2); return err },
		"Unlink":         func(ctx context.Context) error { return st.Unlink(ctx, "u1") },
		"UnlinkChat":     func(ctx context.Context) error { _, err := st.UnlinkChat(ctx, 1, events.ReasonStop); return err },
		"ClaimUpdate":    func(ctx context.Context) error { _, err := st.ClaimUpdate(ctx, 1, time.Minute); return err },
		"CompleteUpdate": func(ctx context.Context) error { return st.CompleteUpdate(ctx, 1, time.Minute) },
		"ReleaseUpdate":  func(ctx context.Context) error { return st.ReleaseUpdate(ctx, 1) },
		"PollOffset":     func(ctx context.Context) error { _, err := st.PollOffset(ctx); return err },
		"SetPollOffset":  func(ctx context.Context) error { return st.SetPollOffset(ctx, 5) },
		"Ping":           func(ctx context.Context) error { return st.Ping(ctx) },
	}
}

func TestRedisOutageAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	st := store.NewRedis(faultClient(t, srv.Addr()), "fault")
	ctx := t.Context()
	if err := st.PutLinkToken(ctx, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("PutLinkToken: %v", err)
	}

	srv.Stop()
	const bound = 2 * time.Second
	for name, call := range storeCalls(st) {
		t.Run("down/"+name, func(t *testing.T) {
			callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			start := time.Now()
			err := call(callCtx)
			if elapsed := time.Since(start); elapsed > bound {
				t.Errorf("%s took %v with Redis down, want < %v", name, elapsed, bound)
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("%s with Redis down = %v, want ErrUnavailable", name, err)
			}
		})
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for err := st.Ping(ctx); err != nil; err = st.Ping(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("Ping after restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling, not synchronisation
	}
	for name, call := range storeCalls(st) {
		t.Run("up/"+name, func(t *testing.T) {
			err := call(ctx)
			if errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("%s after restart = %v", name, err)
			}
		})
	}
}

func TestRedisAOFSurvivesRestart(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{AOF: true})
	st := store.NewRedis(srv.Client(t), "")
	ctx := t.Context()
	if err := st.PutLinkToken(ctx, store.LinkToken{Token: "t1", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeLinkToken(ctx, "t1", 42, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPollOffset(ctx, 77); err != nil {
		t.Fatal(err)
	}

	srv.Stop() // SIGKILL: only the fsynced AOF survives
	srv.Restart()

	link, err := st.GetLink(ctx, "u1")
	if err != nil || link.ChatID != 42 || link.Username != "alice" {
		t.Fatalf("GetLink after restart = %+v, %v", link, err)
	}
	if off, err := st.PollOffset(ctx); err != nil || off != 77 {
		t.Fatalf("PollOffset after restart = %d, %v", off, err)
	}
}

func TestRedisDefaultPrefixAndKeys(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	st := store.NewRedis(c, "")
	ctx := t.Context()
	if err := st.PutLinkToken(ctx, store.LinkToken{Token: "tok", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "tgn:user:u1:lt").Result(); err != nil || got != "tok" {
		t.Fatalf("pointer key = %q, %v", got, err)
	}
	if ttl := c.PTTL(ctx, "tgn:lt:tok").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("token TTL = %v", ttl)
	}
	if _, err := st.ConsumeLinkToken(ctx, "tok", -100, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := c.HGet(ctx, "tgn:links:"+bucketOf("u1"), "u1").Result(); err != nil || !strings.HasPrefix(got, "-100|") || !strings.HasSuffix(got, "|bob") {
		t.Fatalf("link field = %q, %v; want -100|<ms>|bob", got, err)
	}
	if got, err := c.HGet(ctx, "tgn:chats:"+bucketOf("-100"), "-100").Result(); err != nil || got != "u1" {
		t.Fatalf("chat index field = %q, %v; want u1", got, err)
	}
	if n := c.Exists(ctx, "tgn:lt:tok", "tgn:user:u1:lt").Val(); n != 0 {
		t.Fatalf("%d token keys survive consumption", n)
	}
	if _, err := st.ClaimUpdate(ctx, 9, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "tgn:upd:9").Val(); got != "p" {
		t.Fatalf("update key = %q, want p", got)
	}
}

func TestRedisUserLinkTokenDanglingPointer(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	st := store.NewRedis(c, "dangle")
	ctx := t.Context()
	if err := st.PutLinkToken(ctx, store.LinkToken{Token: "tok", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "dangle:lt:tok").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserLinkToken(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserLinkToken with dangling pointer = %v, want ErrNotFound", err)
	}
}

func TestOpenRedis(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()

	c, err := store.OpenRedis(ctx, srv.URL())
	if err != nil {
		t.Fatalf("OpenRedis(%s): %v", srv.URL(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := store.NewRedis(c, "open").Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	const secret = "s3cr3t-pw"
	tests := []struct {
		name        string
		url         string
		unavailable bool
	}{
		{"bad scheme", "http://user:" + secret + "@127.0.0.1:1/0", false},
		{"unparsable", "redis://user:" + secret + "@127.0.0.1:bad port/0", false},
		{"bad db", "redis://user:" + secret + "@127.0.0.1:6379/notanumber", false},
		{"wrong password", "redis://user:" + secret + "@" + srv.Addr() + "/0", true},
		{"nobody listening", "redis://user:" + secret + "@127.0.0.1:1/0?dial_timeout=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := store.OpenRedis(ctx, tt.url)
			if err == nil {
				_ = c.Close()
				t.Fatal("OpenRedis succeeded, want error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the password: %v", err)
			}
			t.Logf("error: %v", err)
			if got := errors.Is(err, store.ErrUnavailable); got != tt.unavailable {
				t.Fatalf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.unavailable)
			}
		})
	}
}

// bucketOf is the documented bucket of a user id or decimal chat id (see
// the key layout in redis.go): the first 16 bits of SHA-1, mod 16384.
func bucketOf(s string) string {
	sum := sha1.Sum([]byte(s))
	return strconv.Itoa(int(binary.BigEndian.Uint16(sum[:2])) % 16384)
}

// TestRedisLinkLayout checks the bucketed layout beyond what the contract
// suite can see: a chat's set exists only while it has several users, a
// bucket key disappears with its last field, separators inside ids and
// usernames survive, a moved link keeps its username and time, and
// buckets stay listpacks.
func TestRedisLinkLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	st := store.NewRedis(c, "lay")
	ctx := t.Context()
	at := time.UnixMilli(1764000000123)
	link := func(user string, chat int64, username string) {
		t.Helper()
		tok := "tok-" + strconv.Itoa(int(time.Now().UnixNano()))
		if err := st.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConsumeLinkToken(ctx, tok, chat, username, at); err != nil {
			t.Fatal(err)
		}
	}
	chatField := func(chat string) (string, bool) {
		t.Helper()
		v, err := c.HGet(ctx, "lay:chats:"+bucketOf(chat), chat).Result()
		if errors.Is(err, redis.Nil) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return v, true
	}
	wantIndex := func(chat string, field string, set ...string) {
		t.Helper()
		v, ok := chatField(chat)
		if field == "-" {
			if ok {
				t.Fatalf("chat %s index field = %q, want none", chat, v)
			}
		} else if !ok || v != field {
			t.Fatalf("chat %s index field = %q (present %v), want %q", chat, v, ok, field)
		}
		members, err := c.SMembers(ctx, "lay:chat:"+chat+":many").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(members)
		if !slices.Equal(members, set) && !(len(members) == 0 && len(set) == 0) {
			t.Fatalf("chat %s set = %v, want %v", chat, members, set)
		}
	}

	odd := "odd|user\nid"
	link("a", 10, "alice")
	wantIndex("10", "a")
	link("b", 10, "bob|the|builder")
	wantIndex("10", "", "a", "b")
	link(odd, 10, "")
	wantIndex("10", "", "a", "b", odd)
	if err := st.Unlink(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wantIndex("10", "", "b", odd)
	if err := st.Unlink(ctx, odd); err != nil {
		t.Fatal(err)
	}
	wantIndex("10", "b") // back to one user: the set is gone
	link("c", 10, "carol")
	wantIndex("10", "", "b", "c")

	moved, err := st.UpdateChatID(ctx, 10, -1001234567890)
	if err != nil || len(moved) != 2 {
		t.Fatalf("UpdateChatID = %v, %v", moved, err)
	}
	wantIndex("10", "-")
	wantIndex("-1001234567890", "", "b", "c")
	got, err := st.GetLink(ctx, "b")
	if err != nil || got.ChatID != -1001234567890 || got.Username != "bob|the|builder" || !got.LinkedAt.Equal(at) {
		t.Fatalf("GetLink(b) after move = %+v, %v; want chat -1001234567890, bob|the|builder, %v", got, err, at)
	}

	link(odd, 20, "x|y")
	if got, err := st.GetLink(ctx, odd); err != nil || got.ChatID != 20 || got.Username != "x|y" {
		t.Fatalf("GetLink(%q) = %+v, %v", odd, got, err)
	}
	for _, k := range []string{"lay:links:" + bucketOf(odd), "lay:chats:" + bucketOf("20")} {
		if enc, err := c.ObjectEncoding(ctx, k).Result(); err != nil || enc != "listpack" {
			t.Fatalf("OBJECT ENCODING %s = %q, %v; want listpack", k, enc, err)
		}
	}
	if users, err := st.UnlinkChat(ctx, -1001234567890, events.ReasonStop); err != nil || len(users) != 2 {
		t.Fatalf("UnlinkChat = %v, %v", users, err)
	}
	wantIndex("-1001234567890", "-")
	if err := st.Unlink(ctx, odd); err != nil {
		t.Fatal(err)
	}
	// Only the event log stays: the links' history.
	if keys, err := c.Keys(ctx, "lay:*").Result(); err != nil || len(keys) != 1 || keys[0] != "lay:events" {
		t.Fatalf("keys left after every link is gone: %v, %v; want only the event log", keys, err)
	}
}
