// Package dashboards_test validates the deployment files around the
// dashboards: docker-compose.yml (with docker-compose config, from Debian's
// docker-compose package — Docker itself is not needed), its bind mounts,
// wiring, healthchecks and security defaults, the Prometheus configuration
// (promtool check config) and the Alertmanager configuration and
// notification templates (amtool, from Debian's prometheus-alertmanager).
// Without docker-compose, promtool or amtool on PATH the tool checks skip,
// except under CI=true, where they fail.
package dashboards_test

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

const composeFile = "../docker-compose.yml"

// composeEnv is what `docker compose up` needs from the operator: the
// pseudonym key has no default.
var composeEnv = []string{"TRUSTPIPE_PSEUDONYM_KEY=0123456789abcdef0123456789abcdef"}

// runTool runs a command (env added to the test's environment) and
// returns its output, failing the test when it fails.
func runTool(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	out, err := execTool(env, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return out
}

func execTool(env []string, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestComposeConfig validates the stack, and that it refuses to start
// without a pseudonym key of the operator's (no demo key outside demo).
func TestComposeConfig(t *testing.T) {
	bin := testkit.Tool(t, "docker-compose", "docker-compose")
	runTool(t, composeEnv, bin, "-f", composeFile, "config", "-q")
	out, err := execTool([]string{"TRUSTPIPE_PSEUDONYM_KEY="}, bin, "-f", composeFile, "config", "-q")
	if err == nil || !strings.Contains(out, "set TRUSTPIPE_PSEUDONYM_KEY") {
		t.Errorf("docker-compose config without TRUSTPIPE_PSEUDONYM_KEY: %v, %q; want a refusal naming the variable", err, out)
	}
}

func TestPrometheusConfig(t *testing.T) {
	runTool(t, nil, testkit.Tool(t, "promtool", "prometheus"), "check", "config", "prometheus/prometheus.yml")
}

// compose is the part of the compose file the wiring checks read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     any               `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Restart     string `yaml:"restart"`
		Healthcheck *struct {
			Test    []string `yaml:"test"`
			Disable bool     `yaml:"disable"`
		} `yaml:"healthcheck"`
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
	if !strings.HasPrefix(c.Services["grafana"].Environment["GF_PLUGINS_PREINSTALL_SYNC"], "grafana-clickhouse-datasource@") {
		t.Error("grafana does not install a pinned grafana-clickhouse-datasource before it starts")
	}
	tp := c.Services["trustpipe"].Environment
	for _, k := range []string{"TRUSTPIPE_KAFKA_BROKERS", "TRUSTPIPE_CLICKHOUSE_ADDR", "TRUSTPIPE_CLICKHOUSE_DATABASE", "TRUSTPIPE_HTTP_ADDR", "TRUSTPIPE_PSEUDONYM_KEY"} {
		if tp[k] == "" {
			t.Errorf("trustpipe service lacks %s", k)
		}
	}
	// Grafana reads the database trustpipe writes: the datasource's default
	// database (the dashboards name none) and the only one its user may read.
	for file, want := range map[string]string{
		"grafana/provisioning/datasources/datasources.yml": "defaultDatabase: " + tp["TRUSTPIPE_CLICKHOUSE_DATABASE"] + "\n",
		readonlyUsers: "<database>" + tp["TRUSTPIPE_CLICKHOUSE_DATABASE"] + "</database>",
	} {
		if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (TRUSTPIPE_CLICKHOUSE_DATABASE of compose): %v", file, want, err)
		}
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

// TestAlertmanagerConfig validates the configuration with amtool
// check-config (receivers, templates), then what amtool does not check:
// every severity the rules use is routed, every receiver has a working
// integration, and the inhibit rules name existing alerts.
func TestAlertmanagerConfig(t *testing.T) {
	runTool(t, nil, testkit.Tool(t, "amtool", "prometheus-alertmanager"), "check-config", "alertmanager/alertmanager.yml")
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
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
			Name    string `yaml:"name"`
			Webhook []any  `yaml:"webhook_configs"`
			Email   []any  `yaml:"email_configs"`
			Slack   []any  `yaml:"slack_configs"`
		} `yaml:"receivers"`
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("alertmanager.yml: %v", err)
	}
	var names []string
	kinds := map[string]bool{}
	for _, r := range cfg.Receivers {
		names = append(names, r.Name)
		if len(r.Webhook)+len(r.Email)+len(r.Slack) == 0 {
			t.Errorf("receiver %s has no integration", r.Name)
		}
		kinds["webhook"] = kinds["webhook"] || len(r.Webhook) > 0
		kinds["email"] = kinds["email"] || len(r.Email) > 0
		kinds["slack"] = kinds["slack"] || len(r.Slack) > 0
	}
	if len(kinds) != 3 || !kinds["webhook"] || !kinds["email"] || !kinds["slack"] {
		t.Errorf("example receivers cover %v; want webhook, email and slack", kinds)
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

const readonlyUsers = "clickhouse/users.d/grafana-readonly.xml"

// TestComposeHealth: every long-running service has a healthcheck (gen-live,
// a producer with no endpoint that nothing depends on, says so by disabling
// it), and every dependency on a long-running service waits for it to be
// healthy (one-shot jobs: for their successful completion).
func TestComposeHealth(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		oneShot := s.Restart == "no"
		noEndpoint := name == "gen-live" && s.Healthcheck != nil && s.Healthcheck.Disable
		if !oneShot && !noEndpoint && (s.Healthcheck == nil || len(s.Healthcheck.Test) == 0) {
			t.Errorf("service %s has no healthcheck", name)
		}
		for dep, d := range s.DependsOn {
			want := "service_healthy"
			if c.Services[dep].Restart == "no" {
				want = "service_completed_successfully"
			}
			if d.Condition != want {
				t.Errorf("service %s depends on %s with condition %q, want %s", name, dep, d.Condition, want)
			}
		}
	}
	if hc := c.Services["trustpipe"].Healthcheck; hc == nil || !slices.Contains(hc.Test, "probe") {
		t.Errorf("trustpipe's healthcheck %v does not use `trustpipe probe` (the image has no shell)", hc)
	}
}

// TestComposeSecurity checks the stack's defaults: ClickHouse is not
// published (its credentials are defaults), Grafana reads it as the
// read-only user of users.d, anonymous access is off unless asked for, and
// there is no default pseudonym key (TestComposeConfig checks the refusal).
func TestComposeSecurity(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"clickhouse", "kafka"} {
		if p := c.Services[name].Ports; len(p) > 0 {
			t.Errorf("service %s publishes %v; it is reachable inside the compose network only", name, p)
		}
	}
	if !slices.Contains(c.Services["clickhouse"].Volumes, "./dashboards/"+readonlyUsers+":/etc/clickhouse-server/users.d/grafana-readonly.xml:ro") {
		t.Errorf("clickhouse does not mount %s into users.d", readonlyUsers)
	}
	g := c.Services["grafana"].Environment
	if g["GF_AUTH_ANONYMOUS_ENABLED"] != "${GRAFANA_ANONYMOUS:-false}" {
		t.Errorf("GF_AUTH_ANONYMOUS_ENABLED is %q; want off unless GRAFANA_ANONYMOUS=true", g["GF_AUTH_ANONYMOUS_ENABLED"])
	}
	if g["GRAFANA_CLICKHOUSE_PASSWORD"] == "" || g["GRAFANA_CLICKHOUSE_PASSWORD"] != c.Services["clickhouse"].Environment["GRAFANA_CLICKHOUSE_PASSWORD"] {
		t.Error("grafana and clickhouse do not share GRAFANA_CLICKHOUSE_PASSWORD (the read-only user's password)")
	}
	if k := c.Services["trustpipe"].Environment["TRUSTPIPE_PSEUDONYM_KEY"]; !strings.HasPrefix(k, "${TRUSTPIPE_PSEUDONYM_KEY:?") {
		t.Errorf("TRUSTPIPE_PSEUDONYM_KEY is %q; want it required (${TRUSTPIPE_PSEUDONYM_KEY:?...})", k)
	}
	ds, err := os.ReadFile("grafana/provisioning/datasources/datasources.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"username: grafana\n", "password: $GRAFANA_CLICKHOUSE_PASSWORD\n"} {
		if !strings.Contains(string(ds), want) {
			t.Errorf("datasources.yml lacks %q: Grafana must connect as the read-only user", want)
		}
	}
	var users struct {
		Profiles struct {
			Readonly struct {
				Readonly int `xml:"readonly"`
			} `xml:"trustpipe_readonly"`
		} `xml:"profiles"`
		Users struct {
			Grafana struct {
				Password struct {
					FromEnv string `xml:"from_env,attr"`
				} `xml:"password"`
				Profile   string   `xml:"profile"`
				Databases []string `xml:"allow_databases>database"`
			} `xml:"grafana"`
		} `xml:"users"`
	}
	b, err := os.ReadFile(readonlyUsers)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &users); err != nil {
		t.Fatalf("%s: %v", readonlyUsers, err)
	}
	u := users.Users.Grafana
	if users.Profiles.Readonly.Readonly != 2 || u.Profile != "trustpipe_readonly" || len(u.Databases) != 1 ||
		u.Password.FromEnv != "GRAFANA_CLICKHOUSE_PASSWORD" {
		t.Errorf("%s: user grafana %+v, readonly %d; want profile trustpipe_readonly (readonly 2), one database, password from GRAFANA_CLICKHOUSE_PASSWORD",
			readonlyUsers, u, users.Profiles.Readonly.Readonly)
	}
}

// TestAlertmanagerTemplates renders the notification templates with amtool
// for a TrustIndexDrop alert (testdata/trustindexdrop.alert.json) and
// compares them with the golden files: summary, what moved the Index,
// runbook and dashboard links. -update rewrites the golden files.
func TestAlertmanagerTemplates(t *testing.T) {
	bin := testkit.Tool(t, "amtool", "prometheus-alertmanager")
	for _, name := range []string{"trustpipe.title", "trustpipe.text", "trustpipe.html"} {
		out := runTool(t, nil, bin, "template", "render", "--template.glob=alertmanager/templates/*.tmpl",
			"--template.data=testdata/trustindexdrop.alert.json", `--template.text={{ template "`+name+`" . }}`)
		testkit.Golden(t, filepath.Join("testdata", name+".golden"), []byte(out))
	}
}
