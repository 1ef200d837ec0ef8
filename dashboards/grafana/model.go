// Package grafana builds trustpipe's Grafana dashboards. The JSON files under
// dashboards/ — what Grafana provisions (provisioning/dashboards/
// dashboards.yml) — are generated from this package, so that every indicator
// formula, title and column name comes from aggregate/indicator and
// sink instead of being typed into JSON by hand:
//
//	go test ./dashboards/grafana -run TestGenerated -update
//
// rewrites them; the test without -update fails when a file is stale.
//
// ClickHouse panels use the grafana-clickhouse-datasource plugin (the
// datasource variable $ds_clickhouse) in SQL mode and read only the
// read-surface views (CONTRACT.md §3, sink.IndicatorViews, sink.IndexViews),
// unqualified: they resolve in the datasource's default database, so one
// JSON serves any configured database and imports into any Grafana
// (__inputs asks for the two datasources). Their SQL must run on ClickHouse
// 18.16 (tests) and on
// current releases (compose): no toStartOfInterval, so no $__timeInterval;
// buckets are toDateTime(intDiv(toUInt32(col), $__interval_s) *
// $__interval_s), toStartOfHour or days. Ratios are always
// sum(numerator) / nullIf(sum(denominator), 0), never averages of ratios.
// Prometheus panels use $ds_prometheus and the metric
// names of consumers/metrics.go and dashboards/prometheus.
//
// Everything here is pure data; functions are safe for concurrent use.
package grafana

import (
	"bytes"
	"encoding/json"
)

const (
	// DatasourceClickHouse and DatasourcePrometheus are the uids
	// provisioning/datasources/datasources.yml gives the compose stack's
	// datasources. The dashboards do not name them: they pick a datasource
	// of the right type through VarClickHouse and VarPrometheus.
	DatasourceClickHouse = "trustpipe-clickhouse"
	DatasourcePrometheus = "trustpipe-prometheus"
	// ClickHouseType and PrometheusType are the datasource plugin ids.
	ClickHouseType = "grafana-clickhouse-datasource"
	PrometheusType = "prometheus"
	// ClickHousePluginVersion is the plugin release whose query handling
	// (macros, $__conditionalAll, variable formats, variable values) the
	// tests reproduce; docker-compose.yml installs exactly this release.
	ClickHousePluginVersion = "4.20.0"
	// VarClickHouse and VarPrometheus are the datasource variables every
	// query goes through; InputClickHouse and InputPrometheus the __inputs
	// Grafana's import asks for and writes into their current value.
	VarClickHouse   = "ds_clickhouse"
	VarPrometheus   = "ds_prometheus"
	InputClickHouse = "DS_CLICKHOUSE"
	InputPrometheus = "DS_PROMETHEUS"
	// VarRunbook is the constant variable holding the runbook's URL, which
	// every panel's link extends with its section.
	VarRunbook = "runbook"
	// RunbookURL is the runbook the dashboards and the alerts link to by
	// default (dashboards/prometheus/RUNBOOK.md on the project's site).
	RunbookURL = "https://github.com/trustpipe/trustpipe/blob/main/dashboards/prometheus/RUNBOOK.md"
	// SchemaVersion is the Grafana dashboard schema the JSON follows.
	SchemaVersion = 39
)

// DS references a datasource.
type DS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

var (
	clickhouse = &DS{Type: ClickHouseType, UID: "${" + VarClickHouse + "}"}
	prometheus = &DS{Type: PrometheusType, UID: "${" + VarPrometheus + "}"}
)

// Input is an entry of __inputs: what Grafana's import asks for; "${Name}"
// anywhere in the JSON is replaced by the answer.
type Input struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	Type        string `json:"type"`
	PluginID    string `json:"pluginId"`
	PluginName  string `json:"pluginName"`
}

// Require is an entry of __requires: a plugin the dashboard needs.
type Require struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Dashboard is the subset of Grafana's dashboard model trustpipe uses.
type Dashboard struct {
	// File is the name of the generated file under dashboards/ (not JSON).
	File string `json:"-"`

	Inputs               []Input     `json:"__inputs"`
	Requires             []Require   `json:"__requires"`
	UID                  string      `json:"uid"`
	Title                string      `json:"title"`
	Description          string      `json:"description"`
	Tags                 []string    `json:"tags"`
	Timezone             string      `json:"timezone"`
	Editable             bool        `json:"editable"`
	GraphTooltip         int         `json:"graphTooltip"`
	FiscalYearStartMonth int         `json:"fiscalYearStartMonth"`
	LiveNow              bool        `json:"liveNow"`
	SchemaVersion        int         `json:"schemaVersion"`
	Version              int         `json:"version"`
	Refresh              string      `json:"refresh"`
	Time                 TimeRange   `json:"time"`
	TimePicker           TimePicker  `json:"timepicker"`
	Templating           Templating  `json:"templating"`
	Annotations          Annotations `json:"annotations"`
	Links                []Link      `json:"links"`
	Panels               []*Panel    `json:"panels"`
}

type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type TimePicker struct {
	RefreshIntervals []string `json:"refresh_intervals"`
}

type Templating struct {
	List []*Variable `json:"list"`
}

type Annotations struct {
	List []any `json:"list"`
}

// Link is a dashboard link (to the other trustpipe dashboards, by tag).
type Link struct {
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	Tags        []string `json:"tags"`
	AsDropdown  bool     `json:"asDropdown"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
	TargetBlank bool     `json:"targetBlank"`
	Icon        string   `json:"icon"`
	Tooltip     string   `json:"tooltip"`
	URL         string   `json:"url"`
}

// Variable is a template variable.
type Variable struct {
	Name        string         `json:"name"`
	Label       string         `json:"label"`
	Description string         `json:"description,omitempty"`
	Type        string         `json:"type"`
	Datasource  *DS            `json:"datasource,omitempty"`
	Query       any            `json:"query"`
	Definition  string         `json:"definition,omitempty"`
	Refresh     int            `json:"refresh"`
	Multi       bool           `json:"multi"`
	IncludeAll  bool           `json:"includeAll"`
	AllValue    *string        `json:"allValue"`
	Sort        int            `json:"sort"`
	Hide        int            `json:"hide"`
	Regex       string         `json:"regex"`
	Current     map[string]any `json:"current"`
	Options     []any          `json:"options"`
	SkipURLSync bool           `json:"skipUrlSync"`
}

// Panel is a Grafana panel (or a row, Type "row").
type Panel struct {
	ID              int          `json:"id"`
	Type            string       `json:"type"`
	Title           string       `json:"title"`
	Description     string       `json:"description,omitempty"`
	GridPos         GridPos      `json:"gridPos"`
	Datasource      *DS          `json:"datasource,omitempty"`
	Interval        string       `json:"interval,omitempty"`
	MaxDataPoints   int          `json:"maxDataPoints,omitempty"`
	Targets         []*Target    `json:"targets,omitempty"`
	FieldConfig     *FieldConfig `json:"fieldConfig,omitempty"`
	Options         Obj          `json:"options,omitempty"`
	Transformations []Obj        `json:"transformations,omitempty"`
	Links           []PanelLink  `json:"links,omitempty"`
	Collapsed       *bool        `json:"collapsed,omitempty"`
	Panels          []*Panel     `json:"panels,omitempty"`
}

// PanelLink is a link in a panel's header menu.
type PanelLink struct {
	Title       string `json:"title"`
	URL         string `json:"url"`
	TargetBlank bool   `json:"targetBlank"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is a query: ClickHouse (RawSQL) or Prometheus (Expr).
type Target struct {
	RefID      string `json:"refId"`
	Datasource *DS    `json:"datasource"`
	Hide       bool   `json:"hide,omitempty"`

	// grafana-clickhouse-datasource (ClickHousePluginVersion): SQL editor, format 0 = time
	// series, 1 = table.
	EditorType    string `json:"editorType,omitempty"`
	Format        *int   `json:"format,omitempty"`
	QueryType     string `json:"queryType,omitempty"`
	RawSQL        string `json:"rawSql,omitempty"`
	PluginVersion string `json:"pluginVersion,omitempty"`

	// Prometheus.
	Expr         string `json:"expr,omitempty"`
	LegendFormat string `json:"legendFormat,omitempty"`
	Range        bool   `json:"range,omitempty"`
	Instant      bool   `json:"instant,omitempty"`
}

// FieldConfig holds the defaults and overrides of a panel's fields.
type FieldConfig struct {
	Defaults  Obj        `json:"defaults"`
	Overrides []Override `json:"overrides"`
}

// Override applies properties to the fields a matcher selects.
type Override struct {
	Matcher    Obj   `json:"matcher"`
	Properties []Obj `json:"properties"`
}

// Obj is a free-form JSON object.
type Obj = map[string]any

// JSON renders the dashboard as Grafana stores it: indented, keys in a
// stable order, no HTML escaping (so "<" and "&" in SQL stay readable),
// with a trailing newline.
func (d *Dashboard) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// All returns the dashboards, in file order.
func All() []*Dashboard {
	return []*Dashboard{Overview(), Drilldown(), Pipeline()}
}

// newDashboard fills the fields every trustpipe dashboard shares.
func newDashboard(file, uid, title, description string, tags ...string) *Dashboard {
	return &Dashboard{
		File:          file,
		UID:           uid,
		Title:         title,
		Description:   description,
		Tags:          append([]string{"trustpipe"}, tags...),
		Timezone:      "utc",
		Editable:      true,
		GraphTooltip:  1, // shared crosshair: one time axis across panels
		SchemaVersion: SchemaVersion,
		Version:       1,
		Refresh:       "1m",
		Time:          TimeRange{From: "now-28d", To: "now"},
		TimePicker:    TimePicker{RefreshIntervals: []string{"30s", "1m", "5m", "15m", "1h"}},
		Templating: Templating{List: []*Variable{
			datasourceVar(VarClickHouse, "ClickHouse", ClickHouseType, InputClickHouse),
			datasourceVar(VarPrometheus, "Prometheus", PrometheusType, InputPrometheus),
			constantVar(VarRunbook, RunbookURL, "Runbook the panels link to (their header menu); change it to a copy of "+
				"dashboards/prometheus/RUNBOOK.md you host"),
		}},
		Inputs: []Input{
			{Name: InputClickHouse, Label: "ClickHouse", Type: "datasource", PluginID: ClickHouseType, PluginName: "ClickHouse",
				Description: "The ClickHouse datasource whose default database is trustpipe's; " +
					"a read-only user suffices"},
			{Name: InputPrometheus, Label: "Prometheus", Type: "datasource", PluginID: PrometheusType, PluginName: "Prometheus",
				Description: "The Prometheus that scrapes trustpipe and loads dashboards/prometheus/*.rules.yml"},
		},
		Requires: []Require{
			{Type: "datasource", ID: ClickHouseType, Name: "ClickHouse", Version: ClickHousePluginVersion},
			{Type: "datasource", ID: PrometheusType, Name: "Prometheus", Version: "1.0.0"},
		},
		Annotations: Annotations{List: []any{Obj{
			"builtIn": 1, "datasource": Obj{"type": "grafana", "uid": "-- Grafana --"},
			"enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)",
			"name": "Annotations & Alerts", "type": "dashboard",
		}}},
		Links: []Link{{
			Title: "trustpipe", Type: "dashboards", Tags: []string{"trustpipe"}, AsDropdown: true,
			KeepTime: true, Icon: "external link", Tooltip: "The other trustpipe dashboards",
		}},
	}
}

// datasourceVar is a datasource variable of one plugin type. Its current
// value is the import input "${input}": Grafana's import replaces it with
// the datasource chosen; where nothing replaces it (file provisioning), no
// datasource has that uid and Grafana falls back to the default (else
// first) datasource of the type.
func datasourceVar(name, label, pluginID, input string) *Variable {
	return &Variable{
		Name: name, Label: label, Type: "datasource", Query: pluginID, Refresh: 1, Regex: "",
		Current: Obj{"selected": false, "text": "${" + input + "}", "value": "${" + input + "}"},
		Options: []any{},
	}
}

// constantVar is a hidden constant variable.
func constantVar(name, value, description string) *Variable {
	return &Variable{
		Name: name, Label: name, Description: description, Type: "constant", Query: value, Hide: 2,
		Current: Obj{"selected": false, "text": value, "value": value}, Options: []any{}, SkipURLSync: true,
	}
}

// layout places panels in rows on the 24-column grid and numbers them.
// Every panel links to the runbook section of its row (row) unless it names
// its own (runbook).
type layout struct {
	d       *Dashboard
	nextID  int
	x, y    int
	rowH    int
	section string
}

func newLayout(d *Dashboard) *layout { return &layout{d: d, nextID: 1} }

// runbookLink links a panel to a section (a heading anchor) of the runbook.
func runbookLink(section string) PanelLink {
	return PanelLink{Title: "Runbook", URL: "${" + VarRunbook + "}#" + section, TargetBlank: true}
}

// runbook sets the runbook section a panel links to.
func (p *Panel) runbook(section string) *Panel {
	p.Links = []PanelLink{runbookLink(section)}
	return p
}

// row starts a titled row (a non-collapsed row header) whose panels link to
// the runbook section (a heading anchor of RUNBOOK.md).
func (l *layout) row(title, section string) {
	l.section = section
	l.newline()
	f := false
	l.d.Panels = append(l.d.Panels, &Panel{ID: l.nextID, Type: "row", Title: title, Collapsed: &f,
		GridPos: GridPos{H: 1, W: 24, X: 0, Y: l.y}, Panels: []*Panel{}})
	l.nextID++
	l.y++
}

// add places p with width w and height h after the previous panel, wrapping
// to a new line when the row is full.
func (l *layout) add(w, h int, p *Panel) *Panel {
	if l.x+w > 24 {
		l.newline()
	}
	p.ID = l.nextID
	l.nextID++
	if p.Links == nil {
		p.runbook(l.section)
	}
	p.GridPos = GridPos{H: h, W: w, X: l.x, Y: l.y}
	l.x += w
	l.rowH = max(l.rowH, h)
	l.d.Panels = append(l.d.Panels, p)
	return p
}

func (l *layout) newline() {
	if l.x > 0 {
		l.y += l.rowH
	}
	l.x, l.rowH = 0, 0
}

var (
	formatTimeSeries = 0
	formatTable      = 1
)

// sqlTarget is a ClickHouse SQL query; table selects the table format
// (otherwise time series: the first DateTime column is the time axis, and
// long results — time, label columns, values — become one series per label).
func sqlTarget(refID string, table bool, sql string) *Target {
	f, qt := &formatTimeSeries, "timeseries"
	if table {
		f, qt = &formatTable, "table"
	}
	return &Target{RefID: refID, Datasource: clickhouse, EditorType: "sql", Format: f, QueryType: qt,
		RawSQL: sql, PluginVersion: ClickHousePluginVersion}
}

// promTarget is a Prometheus range query.
func promTarget(refID, expr, legend string) *Target {
	return &Target{RefID: refID, Datasource: prometheus, Expr: expr, LegendFormat: legend, Range: true}
}

// promInstant is a Prometheus instant query (stats, tables).
func promInstant(refID, expr, legend string) *Target {
	return &Target{RefID: refID, Datasource: prometheus, Expr: expr, LegendFormat: legend, Instant: true}
}
