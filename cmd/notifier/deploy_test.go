package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tgnotify/tgnotify/config"
)

// composeFile is the subset of the Compose specification the checks read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Profiles    []string          `yaml:"profiles"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test        []string `yaml:"test"`
			Interval    string   `yaml:"interval"`
			Timeout     string   `yaml:"timeout"`
			Retries     int      `yaml:"retries"`
			StartPeriod string   `yaml:"start_period"`
		} `yaml:"healthcheck"`
		Volumes         []string `yaml:"volumes"`
		Restart         string   `yaml:"restart"`
		StopGracePeriod string   `yaml:"stop_grace_period"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestComposeFile checks docker-compose.yml, which cannot be run on a
// machine without a Docker engine: it parses, names the services, passes
// the environment through and health-checks both services.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	redis, ok := c.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	if !strings.Contains(strings.Join(redis.Command, " "), "--appendonly yes") {
		t.Error("redis runs without persistence (--appendonly yes)")
	}
	if len(redis.Volumes) == 0 || c.Volumes["redis-data"] == nil && !hasKey(c.Volumes, "redis-data") {
		t.Error("redis data is not on a named volume")
	}
	n, ok := c.Services["notifier"]
	if !ok {
		t.Fatal("no notifier service")
	}
	if n.Build == nil {
		t.Error("notifier is not built from the repo's Dockerfile")
	}
	if n.DependsOn["redis"].Condition != "service_healthy" {
		t.Error("notifier does not wait for a healthy redis")
	}
	if n.Environment["REDIS_URL"] != "redis://redis:6379/0" {
		t.Errorf("REDIS_URL = %q", n.Environment["REDIS_URL"])
	}
	for _, k := range []string{
		"NOTIFIER_GRPC_ADDR", "NOTIFIER_HTTP_ADDR", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL",
		"TELEGRAM_BOT_USERNAME", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET", "LINK_TOKEN_TTL", "WELCOME_MESSAGE",
	} {
		if _, ok := n.Environment[k]; !ok {
			t.Errorf("notifier does not pass %s through", k)
		}
	}
	for name, test := range map[string][]string{"redis": redis.Healthcheck.Test, "notifier": n.Healthcheck.Test} {
		if len(test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	if strings.Join(n.Healthcheck.Test, " ") != "CMD /notifier healthcheck" {
		t.Errorf("notifier healthcheck = %v, want the binary's own healthcheck", n.Healthcheck.Test)
	}
	sb, ok := c.Services["notifier-sandbox"]
	if !ok || len(sb.Profiles) != 1 || sb.Profiles[0] != "sandbox" {
		t.Error("no notifier-sandbox service in the sandbox profile")
	}
	if _, ok := sb.Environment["TELEGRAM_BOT_TOKEN"]; ok {
		t.Error("the sandbox service must run without a bot token")
	}
	checkComposeShape(t, n.Ports, n.Environment, sb.Ports, sb.Environment)
}

// checkComposeShape checks what the production service does with the
// operator's environment, through the service's own LoadConfig (issue 8,
// findings 3 and 6): it never starts the sandbox, never serves an open API
// by default, publishes only the webhook listener beyond this host, and the
// sandbox service is the sandbox.
func checkComposeShape(t *testing.T, ports []string, env map[string]string, sbPorts []string, sbEnv map[string]string) {
	t.Helper()
	webhookPort := strings.TrimPrefix(env["NOTIFIER_WEBHOOK_ADDR"], ":")
	if webhookPort == "" {
		t.Error("notifier does not serve the webhook on its own listener (NOTIFIER_WEBHOOK_ADDR)")
	}
	for _, p := range ports {
		p = interpolate(p, nil)
		if strings.HasSuffix(p, ":"+webhookPort) && strings.Count(p, ":") == 1 {
			continue // the public webhook listener
		}
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("notifier publishes %q beyond this host: only the webhook port %s may be public", p, webhookPort)
		}
	}
	if !slices.ContainsFunc(ports, func(p string) bool { return strings.HasSuffix(interpolate(p, nil), ":"+webhookPort) }) {
		t.Errorf("notifier does not publish the webhook port %s", webhookPort)
	}
	for _, p := range sbPorts {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("the sandbox (no authentication) publishes %q beyond this host", p)
		}
	}
	cases := []struct {
		name    string
		host    map[string]string // the operator's environment
		wantErr []string
		check   func(t *testing.T, c config.Config)
	}{
		{name: "token secret missing", host: nil, wantErr: []string{"TELEGRAM_BOT_TOKEN", "REDIS_URL"}},
		{name: "token set to empty", host: map[string]string{"TELEGRAM_BOT_TOKEN": ""}, wantErr: []string{"TELEGRAM_BOT_TOKEN"}},
		{name: "session secret missing", host: map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc"}, wantErr: []string{"NOTIFIER_SESSION_SECRET"}},
		{name: "real bot", host: map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "NOTIFIER_SESSION_SECRET": strings.Repeat("s", 64)}, check: func(t *testing.T, c config.Config) {
			if c.Sandbox() || c.APIKeysFile == "" || c.AllowOpenAPI || c.WebhookAddr == "" {
				t.Errorf("sandbox=%v keys=%q open=%v webhook_addr=%q: want a real bot, API keys required, webhook on its own listener",
					c.Sandbox(), c.APIKeysFile, c.AllowOpenAPI, c.WebhookAddr)
			}
		}},
		{name: "keys file unset, open API not allowed", host: map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "NOTIFIER_API_KEYS_FILE": ""},
			wantErr: []string{"NOTIFIER_API_KEYS_FILE", "NOTIFIER_ALLOW_OPEN_API"}},
		{name: "open API on purpose", host: map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc", "NOTIFIER_API_KEYS_FILE": "", "NOTIFIER_ALLOW_OPEN_API": "true"},
			check: func(t *testing.T, c config.Config) {
				if !c.AllowOpenAPI || c.APIKeysFile != "" {
					t.Errorf("keys=%q open=%v", c.APIKeysFile, c.AllowOpenAPI)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resolved := map[string]string{}
			for k, v := range env {
				resolved[k] = interpolate(v, c.host)
			}
			cfg, err := loadEnv(resolved)
			if len(c.wantErr) > 0 {
				for _, w := range c.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want a refusal naming %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			c.check(t, cfg)
		})
	}
	if cfg, err := loadEnv(sbEnv); err != nil || !cfg.Sandbox() {
		t.Errorf("notifier-sandbox: sandbox=%v err=%v, want the sandbox", cfg.Sandbox(), err)
	}
}

func loadEnv(env map[string]string) (config.Config, error) {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	return config.LoadFrom(config.MapLookup(env), names)
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)?([^}]*)\}`)

// interpolate expands ${VAR}, ${VAR:-default} (default when unset or
// empty) and ${VAR-default} (default when unset) as Compose does.
func interpolate(s string, host map[string]string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		g := composeVar.FindStringSubmatch(m)
		v, ok := host[g[1]]
		switch g[2] {
		case ":-":
			if v == "" {
				return g[3]
			}
		case "-":
			if !ok {
				return g[3]
			}
		}
		return v
	})
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// TestDockerfile checks the image is multi-stage, static and non-root.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{"AS build", "CGO_ENABLED=0", "distroless/static", "USER nonroot", "./cmd/notifier", `ENTRYPOINT ["/notifier"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
