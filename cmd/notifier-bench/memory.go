package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
)

// memoryOptions configure the memory scenario.
type memoryOptions struct {
	Redis       redisOptions
	Users       int
	Concurrency int
	// Bucketed also measures a reference layout (not the service's): the
	// same data in Users/64 hashes for links and as many for the chat
	// index, denser than the service's fixed 16384 buckets each.
	Bucketed bool
}

// check rejects options the scenario cannot run with.
func (o memoryOptions) check() error {
	if o.Users < 1 || o.Concurrency < 1 {
		return errors.New("memory: want -users and -concurrency >= 1")
	}
	return nil
}

func (o *memoryOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&o.Users, prefix+"users", 100_000, "memory: users linked")
	fs.IntVar(&o.Concurrency, prefix+"concurrency", 64, "memory: concurrent linkers")
	fs.BoolVar(&o.Bucketed, prefix+"bucketed", true, "memory: also measure the bucketed-hash alternative layout")
}

func (o *memoryOptions) validate() error { return o.check() }

func (o *memoryOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	_, err := runMemory(ctx, *o, w)
	return err
}

// memoryTarget is the Redis memory wanted per linked user, in bytes.
const memoryTarget = 200

// keyShape is one kind of key a link leaves: MEMORY USAGE measured on a
// sample, encodings (and fields, for hashes) counted on every key.
type keyShape struct {
	Shape      string         `json:"shape"`
	Count      int64          `json:"count"`
	Encoding   string         `json:"encoding"`
	Encodings  map[string]int `json:"encodings"`
	Sampled    int            `json:"sampled"`
	AvgBytes   float64        `json:"avg_memory_usage_bytes"`
	Fields     int64          `json:"fields,omitempty"`
	MeanFields float64        `json:"mean_fields,omitempty"`
	MaxFields  int64          `json:"max_fields,omitempty"`
}

// memoryResult is the memory scenario's JSON line.
type memoryResult struct {
	header
	Config struct {
		Users         int    `json:"users"`
		Concurrency   int    `json:"concurrency"`
		Redis         string `json:"redis"`
		UserIDExample string `json:"user_id_example"`
		ChatIDExample int64  `json:"chat_id_example"`
		UsernameEx    string `json:"username_example"`
	} `json:"config"`
	LinkSeconds       float64        `json:"link_seconds"`
	Keys              int64          `json:"keys"`
	UsedMemoryBefore  int64          `json:"used_memory_before"`
	UsedMemoryAfter   int64          `json:"used_memory_after"`
	BytesPerUser      float64        `json:"bytes_per_user"`
	EventLogBytes     int64          `json:"event_log_bytes"`
	DatasetPerUser    float64        `json:"dataset_bytes_per_user"`
	Shapes            []keyShape     `json:"key_shapes"`
	Target            float64        `json:"target"`
	Pass              bool           `json:"pass"`
	BucketedPerUser   float64        `json:"bucketed_bytes_per_user,omitempty"`
	BucketedBuckets   int            `json:"bucketed_buckets,omitempty"`
	BucketedEncodings map[string]int `json:"bucketed_encodings,omitempty"`
}

// runMemory measures the Redis memory a linked user costs: a fresh
// redis-server, INFO memory used_memory before and after linking
// o.Users users through the store API exactly as a link does
// (PutLinkToken, then ConsumeLinkToken, which deletes the token), with
// every linking connection closed before the second reading.
func runMemory(ctx context.Context, o memoryOptions, w io.Writer) (memoryResult, error) {
	var res memoryResult
	if err := o.check(); err != nil {
		return res, err
	}
	rs, err := startRedis(ctx, o.Redis)
	if err != nil {
		return res, err
	}
	defer rs.Close()
	probe := redisClient(rs, 1)
	defer probe.Close()
	users := makeUsers(o.Users)

	// Warm up: the first link loads the store's scripts into the script
	// cache, which is not per-user memory.
	warm := store.NewRedis(redisClient(rs, 1), store.DefaultRedisPrefix)
	err = linkDirect(ctx, warm, makeUsers(1), 1)
	_ = warm.Close()
	if err != nil {
		return res, err
	}
	if err := probe.FlushAll(ctx).Err(); err != nil {
		return res, err
	}
	var ds0, ds1 int64
	if res.UsedMemoryBefore, ds0, err = readMemory(ctx, probe); err != nil {
		return res, err
	}

	st := store.NewRedis(redisClient(rs, o.Concurrency), store.DefaultRedisPrefix)
	t0 := time.Now()
	err = linkDirect(ctx, st, users, o.Concurrency)
	res.LinkSeconds = round(time.Since(t0).Seconds(), 2)
	_ = st.Close()
	if err != nil {
		return res, err
	}
	if res.UsedMemoryAfter, ds1, err = readMemory(ctx, probe); err != nil {
		return res, err
	}
	// Each link also appended a USER_LINKED event to the event log, which
	// retention bounds apart from the links (the events scenario measures
	// its cost per event): measured, reported, then left out of the
	// per-user figure and of the key shapes.
	if res.EventLogBytes, err = dropEventLog(ctx, probe); err != nil {
		return res, err
	}
	if res.Keys, err = probe.DBSize(ctx).Result(); err != nil {
		return res, err
	}
	if res.Shapes, err = keyShapes(ctx, probe, 200); err != nil {
		return res, err
	}
	n := float64(len(users))
	res.BytesPerUser = round(float64(res.UsedMemoryAfter-res.UsedMemoryBefore-res.EventLogBytes)/n, 1)
	res.DatasetPerUser = round(float64(ds1-ds0-res.EventLogBytes)/n, 1)
	res.Target = memoryTarget
	res.Pass = res.BytesPerUser <= memoryTarget

	if o.Bucketed {
		if err := measureBucketed(ctx, probe, users, &res); err != nil {
			return res, err
		}
	}

	res.header = newHeader("memory", describeMachine(ctx, rs))
	c := &res.Config
	c.Users, c.Concurrency, c.Redis = o.Users, o.Concurrency, o.Redis.persistence()
	c.UserIDExample, c.ChatIDExample, c.UsernameEx = users[0].ID, users[0].Chat, users[0].Username
	return res, emit(w, res.report(o.Bucketed), res)
}

// report is the memory scenario's human-readable lines.
func (res *memoryResult) report(bucketed bool) []string {
	c, n := &res.Config, float64(res.Config.Users)
	lines := []string{
		fmt.Sprintf("memory: %s", res.Machine),
		fmt.Sprintf("memory: %d users linked through store.Redis (PutLinkToken + ConsumeLinkToken, %d at a time) in %.1f s; redis %s",
			c.Users, c.Concurrency, res.LinkSeconds, c.Redis),
		fmt.Sprintf("  ids like %q, chat %d, username %q", c.UserIDExample, c.ChatIDExample, c.UsernameEx),
		fmt.Sprintf("  keys left: %d (%.2f per user)", res.Keys, float64(res.Keys)/n),
	}
	for _, s := range res.Shapes {
		line := fmt.Sprintf("    %-28s x%-8d %-10s MEMORY USAGE avg %.1f B (sample of %d)", s.Shape, s.Count, s.Encoding, s.AvgBytes, s.Sampled)
		if s.MaxFields > 0 {
			line += fmt.Sprintf("; fields mean %.1f, max %d", s.MeanFields, s.MaxFields)
		}
		line += fmt.Sprintf("; encodings %v", s.Encodings)
		lines = append(lines, line)
	}
	lines = append(lines,
		fmt.Sprintf("  used_memory %d -> %d, less the event log's %d bytes (a USER_LINKED per link): %.1f bytes/user (dataset part %.1f) (target <= %d): %s",
			res.UsedMemoryBefore, res.UsedMemoryAfter, res.EventLogBytes, res.BytesPerUser, res.DatasetPerUser, memoryTarget, verdict(res.Pass)))
	if !res.Pass && len(res.Shapes) > 0 {
		top := slices.MaxFunc(res.Shapes, func(a, b keyShape) int {
			return int(a.AvgBytes*float64(a.Count) - b.AvgBytes*float64(b.Count))
		})
		lines = append(lines, fmt.Sprintf("  dominated by %s: %.1f B/user of %.1f (encoding %s; every top-level key also pays its dictEntry, key sds and robj)",
			top.Shape, top.AvgBytes*float64(top.Count)/n, res.BytesPerUser, top.Encoding))
	}
	if bucketed {
		lines = append(lines, fmt.Sprintf("  reference layout (measured here, NOT what the service does): links and chat index as fields of %d+%d hashes, users/64 each (%v): %.1f bytes/user",
			res.BucketedBuckets, res.BucketedBuckets, res.BucketedEncodings, res.BucketedPerUser))
	}
	return lines
}

// linkDirect links users through the store, conc at a time.
func linkDirect(ctx context.Context, st store.Store, users []benchUser, conc int) error {
	return forEach(ctx, len(users), conc, func(ctx context.Context, i int) error {
		u := users[i]
		buf := make([]byte, 24)
		_, _ = rand.Read(buf)
		tok := base64.RawURLEncoding.EncodeToString(buf) // as the service mints them
		now := time.Now()
		err := st.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: u.ID, ExpiresAt: now.Add(time.Hour)})
		if err == nil {
			_, err = st.ConsumeLinkToken(ctx, tok, u.Chat, u.Username, now)
		}
		if err != nil {
			return fmt.Errorf("link %s: %w", u.ID, err)
		}
		return nil
	})
}

// readMemory returns redis-server's used_memory once settled (see
// settledUsedMemory) and its used_memory_dataset.
func readMemory(ctx context.Context, c *redis.Client) (used, dataset int64, err error) {
	if used, err = settledUsedMemory(ctx, c); err != nil {
		return 0, 0, err
	}
	if dataset, err = infoInt(ctx, c, "memory", "used_memory_dataset"); err != nil {
		return 0, 0, err
	}
	return used, dataset, nil
}

// settledUsedMemory disconnects every other client (the linkers' pool is
// closed already, but a straggling connection must not count), waits until
// only the probe is connected and
// used_memory has not moved for five readings 100 ms apart (bounded by
// 15 s; incremental rehashing of the keyspace may still be finishing),
// then returns it.
func settledUsedMemory(ctx context.Context, c *redis.Client) (int64, error) {
	if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
		return 0, fmt.Errorf("CLIENT KILL: %w", err)
	}
	err := poll.Until(ctx, 15*time.Second, "linking connections to close", func() (bool, error) {
		n, err := infoInt(ctx, c, "clients", "connected_clients")
		return n == 1, err
	})
	if err != nil {
		list, _ := c.ClientList(ctx).Result()
		return 0, fmt.Errorf("%w; CLIENT LIST:\n%s", err, list)
	}
	var last int64 = -1
	same := 0
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := infoInt(ctx, c, "memory", "used_memory")
		if err != nil {
			return 0, err
		}
		if v == last {
			same++
		} else {
			same = 0
		}
		last = v
		if same >= 4 || time.Now().After(deadline) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

var (
	userRe   = regexp.MustCompile(`bench-user-\d+`)
	numRe    = regexp.MustCompile(`\d{6,}`)
	bucketRe = regexp.MustCompile(`:(links|chats):\d+$`)
)

// keyShapes scans the keyspace and groups keys by shape (ids replaced by
// <user> and <n>, bucket numbers by <b>). It measures MEMORY USAGE on up
// to sample keys of each shape, and counts OBJECT ENCODING (and, for
// hashes, HLEN) on every key.
// dropEventLog returns the memory of the event log's stream (MEMORY USAGE;
// 0 when absent) and deletes it.
func dropEventLog(ctx context.Context, c *redis.Client) (int64, error) {
	key := store.DefaultRedisPrefix + ":events"
	n, err := c.MemoryUsage(ctx, key, 0).Result() // SAMPLES 0: every entry
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, c.Del(ctx, key).Err()
}

func keyShapes(ctx context.Context, c *redis.Client, sample int) ([]keyShape, error) {
	type acc struct {
		keyShape
		keys []string // every key of the shape
	}
	shapes := map[string]*acc{}
	var cursor uint64
	for range 1 << 20 { // bounded: far more SCAN pages than any run needs
		keys, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			s := bucketRe.ReplaceAllString(numRe.ReplaceAllString(userRe.ReplaceAllString(k, "<user>"), "<n>"), ":$1:<b>")
			a := shapes[s]
			if a == nil {
				a = &acc{keyShape: keyShape{Shape: s, Encodings: map[string]int{}}}
				shapes[s] = a
			}
			a.Count++
			a.keys = append(a.keys, k)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	var out []keyShape
	for _, a := range shapes {
		sampled := a.keys[:min(sample, len(a.keys))]
		var total int64
		for _, k := range sampled {
			n, err := c.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				return nil, fmt.Errorf("MEMORY USAGE %s: %w", k, err)
			}
			total += n
		}
		a.Sampled = len(sampled)
		a.AvgBytes = round(float64(total)/float64(len(sampled)), 1)
		typ, err := c.Type(ctx, a.keys[0]).Result()
		if err != nil {
			return nil, err
		}
		var fields int64
		for from := 0; from < len(a.keys); from += 1000 {
			pipe := c.Pipeline()
			var encs []*redis.StringCmd
			var lens []*redis.IntCmd
			for _, k := range a.keys[from:min(from+1000, len(a.keys))] {
				encs = append(encs, pipe.ObjectEncoding(ctx, k))
				if typ == "hash" {
					lens = append(lens, pipe.HLen(ctx, k))
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, err
			}
			for _, e := range encs {
				a.Encodings[e.Val()]++
			}
			for _, l := range lens {
				fields += l.Val()
				a.MaxFields = max(a.MaxFields, l.Val())
			}
		}
		if typ == "hash" {
			a.Fields = fields
			a.MeanFields = round(float64(fields)/float64(len(a.keys)), 1)
		}
		a.Encoding = slices.MaxFunc(slices.Collect(maps.Keys(a.Encodings)), func(x, y string) int {
			return a.Encodings[x] - a.Encodings[y]
		})
		out = append(out, a.keyShape)
	}
	slices.SortFunc(out, func(a, b keyShape) int { return int(b.Count - a.Count) })
	return out, nil
}

// bucketEntries is the mean number of fields per hash in the bucketed
// layout, below hash-max-listpack-entries (128) so hashes stay listpacks.
const bucketEntries = 64

// measureBucketed empties the database and stores the same links in a
// reference layout: field user -> "chat:username:linked_at" in one of
// n/64 hashes, and field chat -> user in as many chat index hashes.
func measureBucketed(ctx context.Context, c *redis.Client, users []benchUser, res *memoryResult) error {
	if err := c.FlushAll(ctx).Err(); err != nil {
		return err
	}
	before, err := settledUsedMemory(ctx, c)
	if err != nil {
		return err
	}
	buckets := max(1, (len(users)+bucketEntries-1)/bucketEntries)
	bucket := func(s string) string {
		h := fnv.New32a()
		_, _ = h.Write([]byte(s))
		return strconv.Itoa(int(h.Sum32() % uint32(buckets)))
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for from := 0; from < len(users); from += 1000 {
		pipe := c.Pipeline()
		for _, u := range users[from:min(from+1000, len(users))] {
			chat := strconv.FormatInt(u.Chat, 10)
			pipe.HSet(ctx, "tgn:lk:"+bucket(u.ID), u.ID, chat+":"+u.Username+":"+now)
			pipe.HSet(ctx, "tgn:ck:"+bucket(chat), chat, u.ID)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	after, err := settledUsedMemory(ctx, c)
	if err != nil {
		return err
	}
	res.BucketedBuckets = buckets
	res.BucketedPerUser = round(float64(after-before)/float64(len(users)), 1)
	pipe := c.Pipeline()
	var encs []*redis.StringCmd
	for b := range buckets {
		for _, p := range []string{"tgn:lk:", "tgn:ck:"} {
			encs = append(encs, pipe.ObjectEncoding(ctx, p+strconv.Itoa(b)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return err
	}
	res.BucketedEncodings = map[string]int{}
	for _, e := range encs {
		if v, err := e.Result(); err == nil {
			res.BucketedEncodings[v]++
		}
	}
	return nil
}
