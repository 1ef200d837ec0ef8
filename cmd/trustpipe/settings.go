package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// setting is one TRUSTPIPE_* variable, a field of Config: what
// `trustpipe help` and `run --help` print, the README's Configuration
// section is generated from, and validation errors are mapped back to.
type setting struct {
	key    string        // the whole variable name, e.g. TRUSTPIPE_BLOCK_SIZE
	val    reflect.Value // the field, settable
	desc   string
	secret bool    // never printed; may come from the file NAME_FILE names
	errs   []error // the sentinels of blames that name this field
}

// settings lists c's variables in field order. The names come from
// envconfig's own key computation (envconfig.Usaget runs a template over
// the fields it reads), so they are the names Process looks up.
func (c *Config) settings() []setting {
	var out []setting
	add := func(key, field string) string {
		sf, _ := reflect.TypeFor[Config]().FieldByName(field)
		out = append(out, setting{key: key, val: reflect.ValueOf(c).Elem().FieldByIndex(sf.Index),
			desc: sf.Tag.Get("desc"), secret: sf.Tag.Get("secret") == "true"})
		return ""
	}
	tmpl := template.Must(template.New("settings").Funcs(template.FuncMap{"add": add}).Parse(`{{range .}}{{add .Key .Name}}{{end}}`))
	if err := envconfig.Usaget(envconfigPrefix, c, io.Discard, tmpl); err != nil {
		panic(fmt.Sprintf("envconfig cannot read Config: %v", err)) // only if Config stopped being a struct
	}
	blames := c.blames()
	for i := range out {
		for _, b := range blames {
			if out[i].val.Addr().Interface() == b.field {
				out[i].errs = b.errs
			}
		}
	}
	return out
}

// fileSuffix marks the variable holding the path of a secret's file, as
// Docker and Kubernetes mount secrets.
const fileSuffix = "_FILE"

// readEnv sets every field of c whose variable is set, with envconfig;
// unset variables leave the field alone. The first bad value is returned
// as a *configError.
func readEnv(c *Config) error {
	settings := c.settings()
	if err := readSecretFiles(settings); err != nil {
		return err
	}
	if err := refuseOtherBases(settings); err != nil {
		return err
	}
	if err := envconfig.Process(envconfigPrefix, c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return &configError{name: pe.KeyName, value: pe.Value, problem: "expected " + expected[pe.TypeName]}
		}
		return fmt.Errorf("read the environment: %w", err)
	}
	trimLists(settings)
	return nil
}

// readSecretFiles sets each secret whose NAME_FILE is set to that file's
// content. Setting NAME as well is refused: which one wins would be a guess.
func readSecretFiles(settings []setting) error {
	for _, s := range settings {
		if !s.secret {
			continue
		}
		fileVar := s.key + fileSuffix
		path, fromFile := os.LookupEnv(fileVar)
		if !fromFile {
			continue
		}
		if _, set := os.LookupEnv(s.key); set {
			return &configError{name: s.key, problem: fmt.Sprintf("both it and %s are set; set only one", fileVar), hideValue: true}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return &configError{name: fileVar, value: path, problem: fmt.Sprintf("cannot read the file: %v", errors.Unwrap(err))}
		}
		// Secret files usually end with a newline that is not part of the
		// secret.
		s.val.SetString(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
	}
	return nil
}

// refuseOtherBases refuses the whole numbers envconfig reads other than
// as decimals (it parses with base 0: 010 is 8, 0x10 is 16, 1_000 is
// 1000); someone writing TRUSTPIPE_BLOCK_SIZE=010 means ten. Values no base
// accepts are left to envconfig's ParseError.
func refuseOtherBases(settings []setting) error {
	for _, s := range settings {
		switch s.val.Interface().(type) {
		case int, int64: // not time.Duration, an int64 envconfig parses as a duration
		default:
			continue
		}
		v, set := os.LookupEnv(s.key)
		if !set {
			continue
		}
		asRead, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			continue
		}
		if meant, err := strconv.ParseInt(v, 10, 64); err != nil || meant != asRead {
			return &configError{name: s.key, value: v, problem: "expected " + wholeNumber}
		}
	}
	return nil
}

// trimLists drops the blanks around list items, which envconfig keeps:
// "a, b" is the topics "a" and "b". A new slice, since a default's may be
// shared.
func trimLists(settings []setting) {
	for _, s := range settings {
		items, ok := s.val.Interface().([]string)
		if !ok || items == nil { // unset and no default: stays nil
			continue
		}
		trimmed := make([]string, len(items))
		for i, item := range items {
			trimmed[i] = strings.TrimSpace(item)
		}
		s.val.Set(reflect.ValueOf(trimmed))
	}
}

// wholeNumber is what int fields accept: envconfig's integers, in base 10
// only (refuseOtherBases).
const wholeNumber = "a whole number, e.g. 10000 (no units or separators)"

// expected says, by the field type an envconfig.ParseError names, what a
// value must look like. Strings and lists never fail to parse.
var expected = map[string]string{
	"bool":          "true or false",
	"int":           wholeNumber,
	"int64":         wholeNumber,
	"float64":       "a number, e.g. 200 or 0.5",
	"time.Duration": "a duration with a unit: ms, s, m or h, e.g. 500ms, 30s, 5m, 1h30m",
}

// configError is a bad configuration value: one line naming the variable,
// the value (never a secret's) and what is expected. Exit code 2.
type configError struct {
	name, value, problem string
	hideValue            bool // a secret, or no single value to blame
}

func (e *configError) Error() string {
	if e.hideValue {
		return e.name + ": " + e.problem
	}
	return fmt.Sprintf("%s=%q: %s", e.name, e.value, e.problem)
}

// explainSetting maps a stage's validation error to the setting it blames:
// the variable, its value and the sentinel's explanation. An error no
// setting claims is returned unchanged.
func (c Config) explainSetting(err error) error {
	var ce *configError
	if errors.As(err, &ce) {
		return err
	}
	for _, s := range c.settings() {
		for _, sentinel := range s.errs {
			if errors.Is(err, sentinel) {
				return &configError{name: s.key, value: text(s.val), problem: detail(err, sentinel), hideValue: s.secret}
			}
		}
	}
	return err
}

// detail is err's text from the sentinel on (dropping the callers' context
// such as "pipeline: "), without a trailing ": got <value>" that the
// variable's value already shows.
func detail(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()); i >= 0 {
		msg = msg[i:]
	}
	if rest, ok := strings.CutPrefix(msg, sentinel.Error()+": got "); ok && !strings.Contains(rest, "\n") {
		return sentinel.Error()
	}
	return msg
}

// text is a setting's value as a user writes it: lists comma-separated,
// durations without zero tails.
func text(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case time.Duration:
		return formatDuration(x)
	default:
		return fmt.Sprint(x)
	}
}

// formatDuration drops the zero tails of time.Duration.String: 1m, not 1m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// helpRow is one line of the variable table.
type helpRow struct{ name, def, desc string }

// helpRows is the variable table with the defaults: secrets get a second
// row for their _FILE variant.
func helpRows() []helpRow {
	c := defaultConfig()
	var rows []helpRow
	for _, s := range c.settings() {
		rows = append(rows, helpRow{s.key, text(s.val), s.desc})
		if s.secret {
			rows = append(rows, helpRow{s.key + fileSuffix, "", "file holding " + s.key + " (Docker/Kubernetes secrets); set one of the two"})
		}
	}
	return rows
}

// printHelp lists every variable with its default.
func printHelp(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, r := range helpRows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, r.def, r.desc)
	}
	return tw.Flush()
}

// markdownHelp is the same table for the README's Configuration section.
func markdownHelp() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	esc := strings.NewReplacer("|", `\|`)
	for _, r := range helpRows() {
		def := ""
		if r.def != "" {
			def = "`" + r.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.name, def, esc.Replace(r.desc))
	}
	return b.String()
}
