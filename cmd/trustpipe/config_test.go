package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/readback"
)

// setEnv makes kv the only TRUSTPIPE_ variables of the process (besides
// the unprefixed ones it names) until the test ends; envconfig reads the
// real environment.
func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, "") // restored when the test ends
			os.Unsetenv(k)
		}
	}
	for _, e := range kv {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
}

// With nothing set, every stage gets exactly its own DefaultConfig: cmd
// writes no default of its own for them.
func TestConfigDefaultsComeFromThePackages(t *testing.T) {
	c := defaultConfig()
	if got, want := c.pipelineConfig(), consumers.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("pipeline config = %+v, want consumers.DefaultConfig() %+v", got, want)
	}
	if got, want := c.kafkaConfig(), consumers.DefaultKafkaConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("kafka config = %+v, want %+v", got, want)
	}
	sc, err := c.sinkConfig()
	if err != nil || !reflect.DeepEqual(sc, sink.DefaultConfig()) {
		t.Errorf("sink config = %+v (%v), want %+v", sc, err, sink.DefaultConfig())
	}
	r, err := c.readbackConfig()
	d := readback.DefaultConfig()
	if err != nil || r.Interval != d.Interval || r.TopN != d.TopN || r.Breakdown != d.Breakdown {
		t.Errorf("readback config = %+v (%v), want the defaults of %+v", r, err, d)
	}
	if err := c.validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

// Unprefixed variables of other programs are never read (envconfig falls
// back to them for fields with an envconfig name tag, which Config has
// none of).
func TestConfigIgnoresUnprefixedVariables(t *testing.T) {
	c := defaultConfig()
	setEnv(t, "LOG_LEVEL=bogus", "BLOCK_SIZE=10k", "CLICKHOUSE_ADDR=elsewhere:1", "KAFKA_BROKERS=elsewhere:2",
		"KAFKA_TOPICS=", "PSEUDONYM_KEY=0123456789abcdef0123", "HTTP_ADDR=:1", "MIGRATE=false")
	if err := readEnv(&c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, defaultConfig()) {
		t.Fatalf("unprefixed variables changed the configuration: %+v", c)
	}
	// Nor any other variable without the prefix, nor a secret's file.
	var unprefixed []string
	for _, s := range c.settings() {
		name := strings.TrimPrefix(s.key, envPrefix)
		unprefixed = append(unprefixed, name+"=bogus", name+fileSuffix+"=/nonexistent")
	}
	setEnv(t, unprefixed...)
	if err := readEnv(&c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, defaultConfig()) {
		t.Fatalf("unprefixed variables changed the configuration: %+v", c)
	}
	// The prefixed ones are read.
	setEnv(t, "TRUSTPIPE_BLOCK_SIZE=500", "TRUSTPIPE_KAFKA_TOPICS= a, b ", "TRUSTPIPE_MAX_AGE=48h")
	if err := readEnv(&c); err != nil {
		t.Fatal(err)
	}
	if c.BlockSize != 500 || !reflect.DeepEqual(c.KafkaTopics, []string{"a", "b"}) || c.MaxAge != 48*time.Hour {
		t.Fatalf("prefixed variables not read: block %d, topics %q, max age %s", c.BlockSize, c.KafkaTopics, c.MaxAge)
	}
}

// Each secret can come from NAME_FILE; both set is refused, and an
// unreadable file names the _FILE variable. Secrets never appear in errors.
func TestConfigSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("s3cret-from-a-file-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name  string
		field func(*Config) string
	}{
		{"TRUSTPIPE_CLICKHOUSE_PASSWORD", func(c *Config) string { return c.ClickhousePassword }},
		{"TRUSTPIPE_KAFKA_SASL_PASSWORD", func(c *Config) string { return c.KafkaSASLPassword }},
		{"TRUSTPIPE_PSEUDONYM_KEY", func(c *Config) string { return c.PseudonymKey }},
	} {
		c := defaultConfig()
		setEnv(t, s.name+"_FILE="+file)
		if err := readEnv(&c); err != nil || s.field(&c) != "s3cret-from-a-file-0123" {
			t.Errorf("%s_FILE: value %q, err %v; want the file's content without its newline", s.name, s.field(&c), err)
		}
		c = defaultConfig()
		setEnv(t, s.name+"=inline-secret-value", s.name+"_FILE="+file)
		err := readEnv(&c)
		want := s.name + ": both it and " + s.name + "_FILE are set; set only one"
		if err == nil || err.Error() != want {
			t.Errorf("both set: err %v, want %q", err, want)
		}
		setEnv(t, s.name+"_FILE="+filepath.Join(dir, "missing"))
		err = readEnv(&c)
		if err == nil || !strings.HasPrefix(err.Error(), s.name+`_FILE="`+dir) || !strings.Contains(err.Error(), "cannot read the file: no such file") {
			t.Errorf("missing file: err %v", err)
		}
	}
	c := defaultConfig()
	setEnv(t, "TRUSTPIPE_PSEUDONYM_KEY=short")
	if err := readEnv(&c); err != nil {
		t.Fatal(err)
	}
	_, err := c.pseudonymizer()
	var ce *configError
	if !errors.As(err, &ce) || strings.Contains(err.Error(), "short") || !strings.HasPrefix(err.Error(), "TRUSTPIPE_PSEUDONYM_KEY: ") {
		t.Errorf("short key: err %v, want a configError naming the variable but not the secret", err)
	}
}

// Every stage sentinel a setting claims maps back to that setting's
// variable, every sentinel is claimed once, and every entry of blames
// reaches a setting.
func TestConfigEverySentinelNamesOneVariable(t *testing.T) {
	c := defaultConfig()
	seen := map[error]string{}
	for _, s := range c.settings() {
		for _, e := range s.errs {
			if prev, dup := seen[e]; dup {
				t.Errorf("%v claimed by %s and %s", e, prev, s.key)
			}
			seen[e] = s.key
			var ce *configError
			if err := c.explainSetting(errors.Join(errors.New("context"), e)); !errors.As(err, &ce) || ce.name != s.key {
				t.Errorf("%v maps to %v, want %s", e, err, s.key)
			}
		}
	}
	n := 0
	for _, b := range c.blames() {
		n += len(b.errs)
	}
	if n != len(seen) {
		t.Errorf("blames lists %d sentinels, the settings carry %d: a blamed field is not read from the environment", n, len(seen))
	}
}

// The tags of Config are the ones the rest relies on: split_words names
// without envconfig name tags (those fall back to the unprefixed name),
// no default tags (the defaults are the packages'), a description for
// help, secrets that are text, and a bad-value message for every type
// envconfig can fail to parse.
func TestConfigTags(t *testing.T) {
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		if f.Tag.Get("split_words") != "true" || f.Tag.Get("desc") == "" {
			t.Errorf("%s: tags %q lack split_words:\"true\" or a desc", f.Name, f.Tag)
		}
		for _, tag := range []string{"envconfig", "default", "required", "ignored"} {
			if _, has := f.Tag.Lookup(tag); has {
				t.Errorf("%s: tag %s is not allowed", f.Name, tag)
			}
		}
		if s, has := f.Tag.Lookup("secret"); has && (s != "true" || f.Type.Kind() != reflect.String) {
			t.Errorf("%s: secret:%q on a %s; want secret:\"true\" on a string", f.Name, s, f.Type)
		}
		if k := f.Type.String(); k != "string" && k != "[]string" && expected[k] == "" {
			t.Errorf("%s: no bad-value message for type %s", f.Name, k)
		}
	}
	c := defaultConfig()
	if n := len(c.settings()); n != ct.NumField() {
		t.Errorf("%d settings for %d fields", n, ct.NumField())
	}
}

// The README's Configuration table is `trustpipe help`'s table.
func TestConfigReadmeTable(t *testing.T) {
	const begin, end = "<!-- BEGIN CONFIGURATION (generated from `trustpipe help`) -->\n", "<!-- END CONFIGURATION -->"
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", begin, end)
	}
	want := markdownHelp()
	if got := readme[i+len(begin) : j]; got != want {
		if testkit.Updating() { // the table is a section of the README, not a whole golden file
			if err := os.WriteFile(path, []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README's Configuration table differs from `trustpipe help`; run go test ./cmd/trustpipe -run TestConfigReadme -update\ngot:\n%s\nwant:\n%s", got, want)
	}
	// And what the binary prints is that table.
	out := runBinary(t, nil, "help")
	for _, r := range helpRows() {
		if !strings.Contains(out.stdout, r.name) || !strings.Contains(readme, "| `"+r.name+"` |") {
			t.Errorf("%s missing from `trustpipe help` or README", r.name)
		}
	}
}

func TestVersionStamps(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "abc123", "2026-11-20T10:00:00Z"
	b := buildInfo()
	if b.Version != "v1.2.3" || b.Commit != "abc123" || b.Date != "2026-11-20T10:00:00Z" {
		t.Fatalf("buildInfo() = %+v, want the -ldflags stamps", b)
	}
	want := `# HELP trustpipe_build_info A metric with a constant '1' value labelled by the version, commit and build date trustpipe was built from.
# TYPE trustpipe_build_info gauge
trustpipe_build_info{build_date="2026-11-20T10:00:00Z",goversion="` + b.GoVersion + `",revision="abc123",version="v1.2.3"} 1
`
	if err := testutil.CollectAndCompare(buildInfoCollector(), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	version, commit, date = "", "", ""
	if b := buildInfo(); b.Version == "" || b.Commit == "" || b.Date == "" {
		t.Errorf("unstamped buildInfo() = %+v: every field needs a value (build info or unknown)", b)
	}
}

// --from x and --from=x, --flag and -flag, mean the same.
func TestHelpFlagForms(t *testing.T) {
	a, err := parseGenFlags([]string{"--events=5", "--scenario", "healthy", "-seed", "3"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseGenFlags([]string{"--events", "5", "--scenario=healthy", "--seed=3"})
	if err != nil || a != b {
		t.Fatalf("gen: %+v vs %+v (%v)", a, b, err)
	}
	r1, err1 := parseReplayFlags([]string{"--from=2026-11-01", "--to", "2026-11-02"})
	r2, err2 := parseReplayFlags([]string{"--from", "2026-11-01", "--to=2026-11-02"})
	if err1 != nil || err2 != nil || r1 != r2 || r1.from != "2026-11-01" {
		t.Fatalf("replay: %+v vs %+v (%v, %v)", r1, r2, err1, err2)
	}
}

func TestConfigTopicFormats(t *testing.T) {
	for _, c := range []struct {
		value, problem string
		want           map[string]string
	}{
		{"", "", map[string]string{}},
		{"sg:sendgrid, mg:mailgun", "", map[string]string{"sg": "sendgrid", "mg": "mailgun"}},
		{"sg", "expected topic:format", nil},
		{"sg:mandrill", "unknown format", nil},
		{"elsewhere:ses", "not one of TRUSTPIPE_KAFKA_TOPICS", nil},
		{"sg:ses,sg:postmark", "listed twice", nil},
	} {
		t.Setenv("TRUSTPIPE_KAFKA_TOPICS", "trust-events,sg,mg")
		t.Setenv("TRUSTPIPE_KAFKA_TOPIC_FORMATS", c.value)
		cfg, err := loadConfig()
		if c.problem != "" {
			if err == nil || !strings.Contains(err.Error(), "TRUSTPIPE_KAFKA_TOPIC_FORMATS") || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("%q: got %v, want an error naming the variable and %q", c.value, err, c.problem)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", c.value, err)
		}
		got := map[string]string{}
		for topic, f := range cfg.pipelineConfig().Formats {
			got[topic] = f.Name()
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q: formats %v, want %v", c.value, got, c.want)
		}
	}
}
