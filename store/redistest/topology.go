package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/internal/freeport"
	"github.com/tgnotify/tgnotify/internal/poll"
)

const (
	// topologyTimeout bounds how long a Sentinel set or Cluster may take to
	// become usable, and how long a failover may take.
	topologyTimeout = 30 * time.Second
	// clusterSlots is the number of hash slots of Redis Cluster.
	clusterSlots = 16384
	// clusterBusOffset is the default distance of the cluster bus port.
	clusterBusOffset = 10000
)

// node is one child process of a topology: a redis-server or a sentinel.
type node struct {
	name string // for logs: "master", "replica", "sentinel-1", "node-2"
	port int
	log  string // log file
	pass string // its requirepass, if any
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	// admin is a client with short timeouts for setup and checks.
	admin *redis.Client
}

func (n *node) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// exited reports whether the process has exited.
func (n *node) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process and waits for it to exit.
func (n *node) kill(tb testing.TB) {
	if n.admin != nil {
		_ = n.admin.Close()
	}
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	select {
	case <-n.done:
	case <-time.After(stopTimeout):
		tb.Errorf("redistest: %s pid %d did not exit within %v of SIGKILL", n.name, n.cmd.Process.Pid, stopTimeout)
	}
}

// logTail returns the end of the node's log.
func (n *node) logTail() string {
	b, err := os.ReadFile(n.log)
	if err != nil {
		return ""
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
	}
	return string(b)
}

// nodeSpec says how to start one node.
type nodeSpec struct {
	name     string
	bin      string
	dir      string // the node's own directory
	password string // for the admin client
	// argv returns the program arguments for port; it may write files.
	argv func(port int) ([]string, error)
	// pickPort returns a port to try (default freeport.Port).
	pickPort func() (int, error)
}

// group is the set of processes of one topology; it kills them all when
// the test ends and prints their log tails when it failed.
type group struct {
	tb    testing.TB
	mu    sync.Mutex
	nodes []*node
}

func newGroup(tb testing.TB) *group {
	g := &group{tb: tb}
	tb.Cleanup(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, n := range g.nodes {
			if tb.Failed() {
				if tail := n.logTail(); tail != "" {
					tb.Logf("%s (%s) log (tail):\n%s", n.name, n.addr(), tail)
				}
			}
			n.kill(tb)
		}
	})
	return g
}

// start launches spec on a free port (retrying on other ports if the
// process dies, e.g. because the port was taken meanwhile) and waits until
// it answers PING.
func (g *group) start(spec nodeSpec) (*node, error) {
	if err := os.MkdirAll(spec.dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", spec.name, err)
	}
	pick := spec.pickPort
	if pick == nil {
		pick = freeport.Port
	}
	var lastErr error
	for range startAttempts {
		port, err := pick()
		if err != nil {
			return nil, err
		}
		n, err := g.startOn(spec, port)
		if err == nil {
			return n, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (g *group) startOn(spec nodeSpec, port int) (*node, error) {
	args, err := spec.argv(port)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.name, err)
	}
	n := &node{name: spec.name, port: port, log: filepath.Join(spec.dir, "redis.log"), pass: spec.password}
	cmd := exec.Command(spec.bin, args...)
	cmd.Dir = spec.dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: exec %s: %w", spec.name, spec.bin, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(n.done)
	}()
	n.admin = redis.NewClient(&redis.Options{
		Addr:         n.addr(),
		Password:     spec.password,
		DialTimeout:  250 * time.Millisecond,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		MaxRetries:   -1,
	})
	g.mu.Lock()
	g.nodes = append(g.nodes, n)
	g.mu.Unlock()

	err = retry(startTimeout, func() error {
		if n.exited() {
			return errStop{fmt.Errorf("%s on %s exited during start: %v\nlog tail:\n%s", n.name, n.addr(), cmd.ProcessState, n.logTail())}
		}
		return pingOnce(n.admin)
	})
	if err != nil {
		n.kill(g.tb)
		return nil, err
	}
	return n, nil
}

// pingOnce pings with a short deadline.
func pingOnce(c *redis.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// errStop makes retry give up at once.
type errStop struct{ error }

// retry calls f every poll.Interval until it returns nil, returns errStop or
// timeout passes; it returns the last error.
func retry(timeout time.Duration, f func() error) error {
	var last error
	err := poll.Until(context.Background(), timeout, "redistest", func() (bool, error) {
		last = f()
		var stop errStop
		if errors.As(last, &stop) {
			return false, stop
		}
		return last == nil, nil
	})
	var stop errStop
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stop):
		return stop.error
	default:
		return fmt.Errorf("not done within %v: %w", timeout, last)
	}
}

// dataArgs are the redis-server arguments shared by data nodes.
func dataArgs(port int, dir, password string) []string {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no",
		// Start a replica's full sync at once, not after the default 5 s.
		"--repl-diskless-sync-delay", "0",
	}
	if password != "" {
		args = append(args, "--requirepass", password, "--masterauth", password)
	}
	return args
}

// userinfo returns "[:password@]" for URLs.
func userinfo(password string) string {
	if password == "" {
		return ""
	}
	return url.UserPassword("", password).String() + "@"
}

// SentinelOptions configure a Sentinel set started by [StartSentinelWith].
type SentinelOptions struct {
	// Password, when set, protects the Redis nodes (requirepass and
	// masterauth; the sentinels get it as auth-pass).
	Password string
	// SentinelPassword, when set, protects the sentinels (requirepass).
	SentinelPassword string
	// Sentinels is how many sentinels to run, 1 to 3 (default 2).
	Sentinels int
}

// SentinelSet is a Redis primary, one replica and the sentinels monitoring
// them under the master name [SentinelSet.MasterName], all on 127.0.0.1.
type SentinelSet struct {
	opts      SentinelOptions
	data      []*node // the initial primary, then the replica
	sentinels []*node
}

// MasterName is the name the sentinels monitor the primary under.
const MasterName = "tgnmaster"

// StartSentinel starts a Sentinel set with two sentinels and no passwords.
// See [StartSentinelWith].
func StartSentinel(tb testing.TB) *SentinelSet {
	tb.Helper()
	return StartSentinelWith(tb, SentinelOptions{})
}

// StartSentinelWith starts a primary, a replica of it and opts.Sentinels
// sentinels, waits until the replica is in sync and every sentinel knows
// the replica (so that a failover can pick it), and kills everything when
// the test ends. A missing redis-server skips the test (fails it when
// CI=true).
func StartSentinelWith(tb testing.TB, opts SentinelOptions) *SentinelSet {
	tb.Helper()
	if opts.Sentinels == 0 {
		opts.Sentinels = 2
	}
	if opts.Sentinels < 1 || opts.Sentinels > 3 {
		tb.Fatalf("redistest: %d sentinels, want 1 to 3", opts.Sentinels)
	}
	server := requireBinary(tb, "redis-server")
	sentinelBin, sentinelArgs := server, []string{"--sentinel"}
	if bin, err := exec.LookPath("redis-sentinel"); err == nil {
		sentinelBin, sentinelArgs = bin, nil
	}
	root := tb.TempDir()
	g := newGroup(tb)
	s := &SentinelSet{opts: opts}
	fail := func(err error) { tb.Helper(); tb.Fatalf("redistest: start sentinel set: %v", err) }

	master, err := g.start(nodeSpec{name: "master", bin: server, dir: filepath.Join(root, "master"), password: opts.Password,
		argv: func(port int) ([]string, error) {
			return dataArgs(port, filepath.Join(root, "master"), opts.Password), nil
		}})
	if err != nil {
		fail(err)
	}
	replica, err := g.start(nodeSpec{name: "replica", bin: server, dir: filepath.Join(root, "replica"), password: opts.Password,
		argv: func(port int) ([]string, error) {
			args := dataArgs(port, filepath.Join(root, "replica"), opts.Password)
			return append(args, "--replicaof", "127.0.0.1", strconv.Itoa(master.port)), nil
		}})
	if err != nil {
		fail(err)
	}
	s.data = []*node{master, replica}
	// The sentinels learn the replica from the primary's INFO, which they
	// read on connecting and then only every 10 s: start them once the
	// primary lists the replica.
	if err := retry(topologyTimeout, func() error { return replicaInSync(master, replica) }); err != nil {
		fail(err)
	}
	for i := range opts.Sentinels {
		name := fmt.Sprintf("sentinel-%d", i+1)
		dir := filepath.Join(root, name)
		n, err := g.start(nodeSpec{name: name, bin: sentinelBin, dir: dir, password: opts.SentinelPassword,
			argv: func(port int) ([]string, error) {
				conf := filepath.Join(dir, "sentinel.conf")
				if err := os.WriteFile(conf, []byte(s.sentinelConf(port, dir, master.port)), 0o644); err != nil {
					return nil, err
				}
				return append([]string{conf}, sentinelArgs...), nil
			}})
		if err != nil {
			fail(err)
		}
		s.sentinels = append(s.sentinels, n)
	}
	for _, sn := range s.sentinels {
		if err := retry(topologyTimeout, func() error { return knowsReplica(sn, replica.addr()) }); err != nil {
			fail(fmt.Errorf("%s: %w", sn.name, err))
		}
	}
	return s
}

// sentinelConf is the configuration file of a sentinel on port.
func (s *SentinelSet) sentinelConf(port int, dir string, masterPort int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s\n",
		port, dir, filepath.Join(dir, "redis.log"))
	fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d 1\n", MasterName, masterPort)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s 5000\n", MasterName)
	fmt.Fprintf(&b, "sentinel failover-timeout %s 10000\n", MasterName)
	if s.opts.Password != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", MasterName, s.opts.Password)
	}
	if s.opts.SentinelPassword != "" {
		fmt.Fprintf(&b, "requirepass %s\nsentinel sentinel-pass %s\n", s.opts.SentinelPassword, s.opts.SentinelPassword)
	}
	return b.String()
}

// infoField returns field of the INFO section of n.
func infoField(n *node, section, field string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := n.admin.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s: no %s in INFO %s", n.name, field, section)
}

// replicaInSync reports whether replica's link to master is up and master
// lists it.
func replicaInSync(master, replica *node) error {
	if v, err := infoField(replica, "replication", "master_link_status"); err != nil || v != "up" {
		return fmt.Errorf("replica master_link_status %q, %v", v, err)
	}
	if v, err := infoField(master, "replication", "connected_slaves"); err != nil || v != "1" {
		return fmt.Errorf("master connected_slaves %q, %v", v, err)
	}
	return nil
}

// knowsReplica reports whether sentinel sn sees replica addr as a healthy
// replica of the master.
func knowsReplica(sn *node, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sc := redis.NewSentinelClient(sentinelOptions(sn))
	defer sc.Close()
	reps, err := sc.Replicas(ctx, MasterName).Result()
	if err != nil {
		return err
	}
	for _, r := range reps {
		if net.JoinHostPort(r["ip"], r["port"]) == addr && r["flags"] == "slave" && r["master-link-status"] == "ok" {
			return nil
		}
	}
	return fmt.Errorf("sentinel does not list %s as a healthy replica yet: %v", addr, reps)
}

// sentinelOptions are client options for sentinel sn.
func sentinelOptions(sn *node) *redis.Options {
	return &redis.Options{Addr: sn.addr(), Password: sn.pass, MaxRetries: -1,
		DialTimeout: 250 * time.Millisecond, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
}

// sentinelClient returns a client for the first sentinel; the caller closes it.
func (s *SentinelSet) sentinelClient() *redis.SentinelClient {
	return redis.NewSentinelClient(sentinelOptions(s.sentinels[0]))
}

// SentinelAddrs returns the sentinels' host:port addresses.
func (s *SentinelSet) SentinelAddrs() []string {
	out := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		out[i] = n.addr()
	}
	return out
}

// URL returns the set's redis-sentinel:// URL, with the passwords.
func (s *SentinelSet) URL() string {
	u := "redis-sentinel://" + userinfo(s.opts.Password) + strings.Join(s.SentinelAddrs(), ",") + "/" + MasterName
	if s.opts.SentinelPassword != "" {
		u += "?sentinel_password=" + url.QueryEscape(s.opts.SentinelPassword)
	}
	return u
}

// MasterAddr returns the primary's host:port as the first sentinel reports it.
func (s *SentinelSet) MasterAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := s.masterAddr()
	if err != nil {
		tb.Fatalf("redistest: master address: %v", err)
	}
	return addr
}

func (s *SentinelSet) masterAddr() (string, error) {
	sc := s.sentinelClient()
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hp, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("GET-MASTER-ADDR-BY-NAME = %q", hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// DataClient returns a client for the data node at addr (the primary or the
// replica), closed when tb ends.
func (s *SentinelSet) DataClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: s.opts.Password,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Failover makes the first sentinel fail the primary over to the replica
// (SENTINEL FAILOVER) and waits until the sentinel reports the new primary
// and that node answers as a master. It returns the new primary's address.
func (s *SentinelSet) Failover(tb testing.TB) string {
	tb.Helper()
	old, err := s.masterAddr()
	if err != nil {
		tb.Fatalf("redistest: failover: %v", err)
	}
	sc := s.sentinelClient()
	defer sc.Close()
	// -NOGOODSLAVE or -INPROG may answer while the sentinel is catching up.
	err = retry(topologyTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return sc.Failover(ctx, MasterName).Err()
	})
	if err != nil {
		tb.Fatalf("redistest: SENTINEL FAILOVER %s: %v", MasterName, err)
	}
	var addr string
	err = retry(topologyTimeout, func() error {
		a, err := s.masterAddr()
		if err != nil {
			return err
		}
		addr = a
		if addr == old {
			return fmt.Errorf("sentinel still reports %s as the primary", old)
		}
		for _, n := range s.data {
			if n.addr() == addr {
				if role, err := infoField(n, "replication", "role"); err != nil || role != "master" {
					return fmt.Errorf("new primary %s role %q, %v", addr, role, err)
				}
				return nil
			}
		}
		return errStop{fmt.Errorf("sentinel reports unknown primary %s", addr)}
	})
	if err != nil {
		tb.Fatalf("redistest: failover from %s: %v", old, err)
	}
	return addr
}

// ClusterOptions configure a Cluster started by [StartClusterWith].
type ClusterOptions struct {
	// Password, when set, protects every node (requirepass and masterauth).
	Password string
	// Replicas gives every master one replica, for [Cluster.Failover].
	Replicas bool
}

// Cluster is a Redis Cluster of three masters without replicas on
// 127.0.0.1, each serving a third of the hash slots.
type Cluster struct {
	opts  ClusterOptions
	nodes []*node
	// replicas[i] is the replica of nodes[i] (with Replicas).
	replicas []*node
}

// StartCluster starts a three-master Cluster without a password. See
// [StartClusterWith].
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	return StartClusterWith(tb, ClusterOptions{})
}

// StartClusterWith starts three cluster-enabled redis-servers (cluster
// config files in tb.TempDir()), assigns each a third of the slots
// (CLUSTER ADDSLOTS, distinct config epochs, CLUSTER MEET: what
// redis-cli --cluster create does, without its fixed sleeps), waits until
// every node reports cluster_state:ok and kills everything when the test
// ends. A missing redis-server skips the test (fails it when CI=true).
func StartClusterWith(tb testing.TB, opts ClusterOptions) *Cluster {
	tb.Helper()
	server := requireBinary(tb, "redis-server")
	root := tb.TempDir()
	g := newGroup(tb)
	c := &Cluster{opts: opts}
	fail := func(err error) { tb.Helper(); tb.Fatalf("redistest: start cluster: %v", err) }
	startNode := func(name string) *node {
		dir := filepath.Join(root, name)
		n, err := g.start(nodeSpec{name: name, bin: server, dir: dir, password: opts.Password, pickPort: freeClusterPort,
			argv: func(port int) ([]string, error) {
				return append(dataArgs(port, dir, opts.Password),
					"--cluster-enabled", "yes",
					"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
					"--cluster-node-timeout", "5000",
				), nil
			}})
		if err != nil {
			fail(err)
		}
		return n
	}
	for i := range 3 {
		c.nodes = append(c.nodes, startNode(fmt.Sprintf("node-%d", i+1)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	for i, n := range c.nodes {
		if err := n.admin.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			fail(fmt.Errorf("%s: CLUSTER SET-CONFIG-EPOCH: %w", n.name, err))
		}
		lo, hi := i*clusterSlots/3, (i+1)*clusterSlots/3
		slots := make([]int, 0, hi-lo)
		for s := lo; s < hi; s++ {
			slots = append(slots, s)
		}
		if err := n.admin.ClusterAddSlots(ctx, slots...).Err(); err != nil {
			fail(fmt.Errorf("%s: CLUSTER ADDSLOTS %d-%d: %w", n.name, lo, hi-1, err))
		}
	}
	for _, n := range c.nodes[1:] {
		if err := c.nodes[0].admin.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(n.port)).Err(); err != nil {
			fail(fmt.Errorf("CLUSTER MEET %s: %w", n.addr(), err))
		}
	}
	for _, n := range c.nodes {
		err := retry(topologyTimeout, func() error {
			info, err := n.admin.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return fmt.Errorf("%s CLUSTER INFO:\n%s", n.name, info)
			}
			return nil
		})
		if err != nil {
			fail(err)
		}
	}
	if opts.Replicas {
		for i := range c.nodes {
			c.replicas = append(c.replicas, startNode(fmt.Sprintf("replica-%d", i+1)))
		}
		if err := c.addReplicas(ctx); err != nil {
			fail(err)
		}
	}
	return c
}

// addReplicas joins c.replicas to the cluster, each replicating its master.
func (c *Cluster) addReplicas(ctx context.Context) error {
	for _, r := range c.replicas {
		if err := c.nodes[0].admin.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(r.port)).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", r.addr(), err)
		}
	}
	for i, r := range c.replicas {
		id, err := c.nodes[i].admin.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return fmt.Errorf("%s: CLUSTER MYID: %w", c.nodes[i].name, err)
		}
		// The replica must know the master's id before it can replicate it.
		err = retry(topologyTimeout, func() error { return r.admin.ClusterReplicate(ctx, id).Err() })
		if err != nil {
			return fmt.Errorf("%s: CLUSTER REPLICATE %s: %w", r.name, id, err)
		}
	}
	for i, r := range c.replicas {
		err := retry(topologyTimeout, func() error {
			if err := replicaInSync(c.nodes[i], r); err != nil {
				return err
			}
			info, err := r.admin.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:6") {
				return fmt.Errorf("%s CLUSTER INFO:\n%s", r.name, info)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Failover makes the replica of master i (0-2) its master with CLUSTER
// FAILOVER (the coordinated kind: the master stops writes until the
// replica has caught up, so no acknowledged write is lost) and waits until
// the replica serves as master and the cluster is ok. It needs Replicas.
func (c *Cluster) Failover(tb testing.TB, i int) {
	tb.Helper()
	if i < 0 || i >= len(c.replicas) {
		tb.Fatalf("redistest: Failover(%d): the cluster has %d replicas", i, len(c.replicas))
	}
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	r := c.replicas[i]
	if err := r.admin.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		tb.Fatalf("redistest: %s: CLUSTER FAILOVER: %v", r.name, err)
	}
	err := retry(topologyTimeout, func() error {
		role, err := infoField(r, "replication", "role")
		if err != nil || role != "master" {
			return fmt.Errorf("%s role %q, %v", r.name, role, err)
		}
		info, err := r.admin.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s CLUSTER INFO: %v\n%s", r.name, err, info)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("redistest: failover of %s: %v", c.nodes[i].name, err)
	}
	c.nodes[i], c.replicas[i] = r, c.nodes[i]
}

// MasterOf returns the index (0-2) of the master serving slot.
func (c *Cluster) MasterOf(tb testing.TB, slot int64) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	for i, n := range c.nodes {
		slots, err := n.admin.ClusterSlots(ctx).Result()
		if err != nil {
			tb.Fatalf("redistest: CLUSTER SLOTS: %v", err)
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && r.Nodes[0].Addr == n.addr() {
				return i
			}
		}
	}
	tb.Fatalf("redistest: no master serves slot %d", slot)
	return -1
}

// freeClusterPort returns a free port whose cluster bus port (+10000) is
// free as well.
func freeClusterPort() (int, error) {
	for range 50 {
		p, err := freeport.Port()
		if err != nil {
			return 0, err
		}
		if p+clusterBusOffset > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+clusterBusOffset)))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p, nil
	}
	return 0, errors.New("find free port pair for a cluster node: none found")
}

// Addrs returns the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr()
	}
	return out
}

// URL returns the cluster's redis-cluster:// URL, with the password.
func (c *Cluster) URL() string {
	return "redis-cluster://" + userinfo(c.opts.Password) + strings.Join(c.Addrs(), ",")
}

// Client returns a go-redis cluster client, closed when tb ends.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Password: c.opts.Password,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}
