package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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
