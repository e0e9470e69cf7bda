package store

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ClusterRedisPrefix is the key prefix for Redis Cluster: the hash tag
// {tgn} puts every key of the store in one hash slot, so the multi-key Lua
// scripts (which derive some key names from values they read) stay on one
// node. [KeyPrefix] returns it for redis-cluster:// URLs.
const ClusterRedisPrefix = "{" + DefaultRedisPrefix + "}"

// URL schemes OpenRedis accepts, by topology.
const (
	schemeSentinel    = "redis-sentinel"
	schemeSentinelTLS = "rediss-sentinel"
	schemeCluster     = "redis-cluster"
	schemeClusterTLS  = "rediss-cluster"
)

// Default ports of an address given without one.
const (
	defaultSentinelPort = "26379"
	defaultClusterPort  = "6379"
)

// KeyPrefix returns the key prefix to give [NewRedis] for the Redis at
// rawURL: [ClusterRedisPrefix] ("{tgn}") for redis-cluster:// and
// rediss-cluster:// URLs, [DefaultRedisPrefix] ("tgn") for every other URL.
func KeyPrefix(rawURL string) string {
	if isClusterScheme(urlScheme(rawURL)) {
		return ClusterRedisPrefix
	}
	return DefaultRedisPrefix
}

// DefaultBot is the bot whose keys keep the single-bot prefix
// ([KeyPrefix]), so that a deployment that adds bots keeps its data.
const DefaultBot = "default"

// BotPrefix returns the key prefix of bot's store at rawURL: the bot
// "default" keeps [KeyPrefix] ("tgn", or "{tgn}" on a Cluster); any other
// bot gets a hash tag of its own, "{tgn:<bot>}", on every topology, so on
// Redis Cluster each bot's keys share one slot (its scripts are multi-key)
// while different bots land on different slots, and masters.
func BotPrefix(rawURL, bot string) string {
	if bot == DefaultBot || bot == "" {
		return KeyPrefix(rawURL)
	}
	return "{" + DefaultRedisPrefix + ":" + bot + "}"
}

// ValidateRedisURL reports whether rawURL is a Redis URL [OpenRedis]
// accepts, without connecting. The error holds no password.
func ValidateRedisURL(rawURL string) error {
	_, err := parseRedisURL(rawURL)
	return err
}

// urlScheme returns rawURL's scheme in lower case ("" when it has none).
func urlScheme(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return ""
	}
	return strings.ToLower(scheme)
}

func isClusterScheme(s string) bool { return s == schemeCluster || s == schemeClusterTLS }

// hasHashTag reports whether every key starting with prefix hashes by a tag
// inside prefix: prefix holds a '{' followed, later in prefix, by a '}' with
// at least one byte between them (Redis Cluster's hash tag rule).
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	return strings.IndexByte(prefix[i+1:], '}') > 0
}

// redisTarget is a parsed REDIS_URL: exactly one of single, failover and
// cluster is set.
type redisTarget struct {
	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
	// where names the servers for error messages (never the password).
	where string
	// secrets are the passwords the URL holds, to redact from errors.
	secrets []string
}

// newClient returns the go-redis client for t.
func (t *redisTarget) newClient() redis.UniversalClient {
	switch {
	case t.failover != nil:
		return redis.NewFailoverClient(t.failover)
	case t.cluster != nil:
		return redis.NewClusterClient(t.cluster)
	default:
		return redis.NewClient(t.single)
	}
}

// redact removes t's secrets, raw or escaped, from msg.
func (t *redisTarget) redact(msg string) string {
	for _, pw := range t.secrets {
		for _, s := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
			if s != "" {
				msg = strings.ReplaceAll(msg, s, "xxxxx")
			}
		}
	}
	return msg
}

// errBadURL reports an invalid Redis URL; msg must hold no secret.
func errBadURL(format string, args ...any) error {
	return fmt.Errorf("store: invalid redis URL: "+format, args...)
}

// parseRedisURL parses one of the URL forms documented on [OpenRedis].
// Its errors hold no password.
func parseRedisURL(rawURL string) (*redisTarget, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		return nil, errBadURL("cannot parse it (details withheld: it may contain a password)")
	}
	t := &redisTarget{}
	if pw, ok := u.User.Password(); ok && pw != "" {
		t.secrets = append(t.secrets, pw)
	}
	q := u.Query()
	for k, vs := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			for _, v := range vs {
				if v != "" {
					t.secrets = append(t.secrets, v)
				}
			}
		}
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, errBadURL("%s", t.redact(err.Error()))
		}
		t.single, t.where = opts, opts.Addr
	case schemeSentinel, schemeSentinelTLS:
		if err := t.parseSentinel(u, q); err != nil {
			return nil, err
		}
	case schemeCluster, schemeClusterTLS:
		if err := t.parseCluster(u, q); err != nil {
			return nil, err
		}
	default:
		return nil, errBadURL("scheme %q, want redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", u.Scheme)
	}
	if !q.Has("protocol") {
		t.setProtocol(defaultProtocol)
	}
	return t, nil
}

// defaultProtocol is the RESP version spoken unless the URL names one
// (?protocol=3). The service uses no RESP3 feature (client-side caching,
// push notifications), and with RESP3 go-redis peeks for pending push
// messages before every command, a measurable cost per Notify.
const defaultProtocol = 2

// setProtocol sets the RESP version of t's client.
func (t *redisTarget) setProtocol(v int) {
	switch {
	case t.single != nil:
		t.single.Protocol = v
	case t.failover != nil:
		t.failover.Protocol = v
	case t.cluster != nil:
		t.cluster.Protocol = v
	}
}

// parseSentinel fills t.failover from
// redis-sentinel://[user:pass@]host:port[,host:port...]/<master>[?db=N&sentinel_password=...].
func (t *redisTarget) parseSentinel(u *url.URL, q url.Values) error {
	addrs, err := splitAddrs(u.Host, defaultSentinelPort)
	if err != nil {
		return err
	}
	master := strings.TrimPrefix(u.Path, "/")
	if master == "" || strings.Contains(master, "/") {
		return errBadURL("%s:// URL needs exactly one path element, the master name (…/mymaster)", u.Scheme)
	}
	sentinelUser, sentinelPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	q.Del("master_name")
	q.Set("master_name", master)
	opts, err := parseWithAddrs(u, q, addrs, nil, redis.ParseFailoverURL)
	if err != nil {
		return errBadURL("%s", t.redact(err.Error()))
	}
	opts.SentinelUsername, opts.SentinelPassword = sentinelUser, sentinelPass
	if u.User != nil {
		opts.Username = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			opts.Password = pw
		}
	}
	t.failover = opts
	t.where = fmt.Sprintf("master %q via sentinels %s", master, strings.Join(opts.SentinelAddrs, ","))
	return nil
}

// parseCluster fills t.cluster from
// redis-cluster://[user:pass@]host:port[,host:port...][?options].
func (t *redisTarget) parseCluster(u *url.URL, q url.Values) error {
	addrs, err := splitAddrs(u.Host, defaultClusterPort)
	if err != nil {
		return err
	}
	if u.Path != "" && u.Path != "/" {
		return errBadURL("%s:// URL has a path: Redis Cluster has only database 0", u.Scheme)
	}
	opts, err := parseWithAddrs(u, q, addrs, u.User, redis.ParseClusterURL)
	if err != nil {
		return errBadURL("%s", t.redact(err.Error()))
	}
	t.cluster = opts
	t.where = "cluster " + strings.Join(opts.Addrs, ",")
	return nil
}

// parseWithAddrs rewrites u into go-redis's own multi-address URL form
// (redis[s]://[user]@first?addr=second&addr=...&<q>) and parses it with
// parse.
func parseWithAddrs[T any](u *url.URL, q url.Values, addrs []string, user *url.Userinfo,
	parse func(string) (*T, error)) (*T, error) {
	scheme := "redis"
	if strings.HasPrefix(u.Scheme, "rediss") {
		scheme = "rediss"
	}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	gu := url.URL{Scheme: scheme, User: user, Host: addrs[0], RawQuery: q.Encode()}
	return parse(gu.String())
}

// splitAddrs splits a comma-separated host[:port] list; an address without
// a port gets defPort.
func splitAddrs(hosts, defPort string) ([]string, error) {
	if hosts == "" {
		return nil, errBadURL("no host:port")
	}
	var out []string
	for a := range strings.SplitSeq(hosts, ",") {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			if strings.ContainsAny(a, ":[]") {
				return nil, errBadURL("address %q: want host:port", a)
			}
			host, port = a, defPort
		}
		if n, err := strconv.Atoi(port); host == "" || err != nil || n < 1 || n > 65535 {
			return nil, errBadURL("address %q: want host:port", a)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}
