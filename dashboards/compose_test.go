// Package dashboards_test validates the deployment files around the
// dashboards: docker-compose.yml (with docker-compose config, from Debian's
// docker-compose package — Docker itself is not needed), its bind mounts and
// wiring, the Prometheus configuration (promtool check config) and the
// Alertmanager configuration. Without docker-compose or promtool on PATH the
// tool checks skip, except under CI=true, where they fail.
package dashboards_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"
)

const composeFile = "../docker-compose.yml"

// tool returns the path of a command, skipping the test when it is missing
// (failing it under CI=true).
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found on PATH (CI=true; install Debian package %s): %v", name, pkg, err)
		}
		t.Skipf("%s not found on PATH (install Debian package %s)", name, pkg)
	}
	return p
}

func runTool(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

func TestComposeConfig(t *testing.T) {
	runTool(t, tool(t, "docker-compose", "docker-compose"), "-f", composeFile, "config", "-q")
}

func TestPrometheusConfig(t *testing.T) {
	runTool(t, tool(t, "promtool", "prometheus"), "check", "config", "prometheus/prometheus.yml")
}

// compose is the part of the compose file the wiring checks read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     any               `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   any               `yaml:"depends_on"`
	} `yaml:"services"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return c
}

// TestComposeWiring checks what docker-compose config cannot: every bind
// mount exists in the repository, the services the provisioning and the
// Prometheus configuration name exist, and the stack has every component
// the design asks for.
func TestComposeWiring(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"kafka", "clickhouse", "grafana", "prometheus", "alertmanager", "trustpipe", "gen-history", "gen-live"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("docker-compose.yml has no service %s", want)
		}
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if !ok || !strings.HasPrefix(src, "./") {
				continue // named volume
			}
			if _, err := os.Stat(filepath.Join("..", src)); err != nil {
				t.Errorf("service %s mounts %s, which does not exist: %v", name, src, err)
			}
		}
	}
	if !strings.Contains(c.Services["grafana"].Environment["GF_INSTALL_PLUGINS"], "grafana-clickhouse-datasource") {
		t.Error("grafana does not install grafana-clickhouse-datasource")
	}
	tp := c.Services["trustpipe"].Environment
	for _, k := range []string{"TRUSTPIPE_KAFKA_BROKERS", "TRUSTPIPE_CLICKHOUSE_ADDR", "TRUSTPIPE_CLICKHOUSE_DATABASE", "TRUSTPIPE_HTTP_ADDR", "TRUSTPIPE_PSEUDONYM_KEY"} {
		if tp[k] == "" {
			t.Errorf("trustpipe service lacks %s", k)
		}
	}
	if tp["TRUSTPIPE_CLICKHOUSE_DATABASE"] != "trustpipe" {
		t.Errorf("the dashboards query the database trustpipe; compose uses %q", tp["TRUSTPIPE_CLICKHOUSE_DATABASE"])
	}
	if !strings.HasSuffix(tp["TRUSTPIPE_HTTP_ADDR"], ":9464") {
		t.Errorf("Prometheus scrapes trustpipe:9464; TRUSTPIPE_HTTP_ADDR is %q", tp["TRUSTPIPE_HTTP_ADDR"])
	}
	prom, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"trustpipe:9464", "alertmanager:9093"} {
		if !strings.Contains(string(prom), target) {
			t.Errorf("prometheus.yml does not name %s", target)
		}
	}
	gens := strings.Join(anyStrings(c.Services["gen-history"].Command), " ") + " | " + strings.Join(anyStrings(c.Services["gen-live"].Command), " ")
	for _, want := range []string{"gen --scenario trust-spiral --events 300000 --days 28", "--live", "--rate 50"} {
		if !strings.Contains(gens, want) {
			t.Errorf("gen services %q lack %q", gens, want)
		}
	}
	// Every datasource host Grafana is provisioned with is a compose service.
	ds, err := os.ReadFile("grafana/provisioning/datasources/datasources.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"host: clickhouse", "http://prometheus:9090"} {
		if !strings.Contains(string(ds), host) {
			t.Errorf("datasources.yml lacks %q", host)
		}
	}
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// TestAlertmanagerConfig checks the structure amtool would: a root route
// whose receivers all exist, and every severity the rules use routed.
func TestAlertmanagerConfig(t *testing.T) {
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Strict decoding: a misspelt key fails, as it would in Alertmanager.
	type route struct {
		Receiver       string   `yaml:"receiver"`
		GroupBy        []string `yaml:"group_by"`
		GroupWait      string   `yaml:"group_wait"`
		GroupInterval  string   `yaml:"group_interval"`
		RepeatInterval string   `yaml:"repeat_interval"`
		Continue       bool     `yaml:"continue"`
		Matchers       []string `yaml:"matchers"`
		Routes         []route  `yaml:"routes"`
	}
	var cfg struct {
		Route     route `yaml:"route"`
		Receivers []struct {
			Name string `yaml:"name"`
		} `yaml:"receivers"`
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		t.Fatalf("alertmanager.yml: %v", err)
	}
	var names []string
	for _, r := range cfg.Receivers {
		names = append(names, r.Name)
	}
	var matchers []string
	var walk func(r route)
	walk = func(r route) {
		if !slices.Contains(names, r.Receiver) {
			t.Errorf("route to unknown receiver %q", r.Receiver)
		}
		matchers = append(matchers, r.Matchers...)
		for _, sub := range r.Routes {
			walk(sub)
		}
	}
	if cfg.Route.Receiver == "" {
		t.Fatal("alertmanager.yml: no root route receiver")
	}
	walk(cfg.Route)
	for _, sev := range []string{`severity="page"`, `severity="ticket"`} {
		if !slices.Contains(matchers, sev) {
			t.Errorf("alertmanager.yml routes no %s", sev)
		}
	}
	rules, err := os.ReadFile("prometheus/alerts.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, ir := range cfg.InhibitRules {
		for _, m := range append(slices.Clone(ir.SourceMatchers), ir.TargetMatchers...) {
			if name, ok := strings.CutPrefix(m, `alertname="`); ok {
				if !strings.Contains(string(rules), "alert: "+strings.TrimSuffix(name, `"`)) {
					t.Errorf("inhibit rule names %s, which alerts.rules.yml does not define", m)
				}
			}
		}
	}
}
