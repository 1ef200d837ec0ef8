package grafana

import "github.com/trustpipe/trustpipe/aggregate/indicator"

// Panel constructors with trustpipe's defaults. Each returns a panel without
// id or position; layout.add sets both.

func legend() Obj {
	return Obj{"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []string{}}
}

func tooltip() Obj { return Obj{"mode": "multi", "sort": "none"} }

func steps(s ...Obj) Obj { return Obj{"mode": "absolute", "steps": s} }

func step(color string, value any) Obj { return Obj{"color": color, "value": value} }

// greenSteps are neutral thresholds (no colouring).
func greenSteps() Obj { return steps(step("green", nil)) }

// indexSteps colour a Trust Index by its bands: red below
// indicator.IndexAtRisk, orange below indicator.IndexHealthy, green.
func indexSteps() Obj {
	return steps(step("red", nil), step("orange", indicator.IndexAtRisk), step("green", indicator.IndexHealthy))
}

func tsCustom(draw string, fill int) Obj {
	return Obj{
		"drawStyle": draw, "lineInterpolation": "linear", "lineWidth": 2, "fillOpacity": fill,
		"gradientMode": "none", "showPoints": "auto", "pointSize": 4, "spanNulls": false,
		"axisPlacement": "auto", "axisLabel": "", "axisCenteredZero": false, "barAlignment": 0,
		"stacking": Obj{"mode": "none", "group": "A"}, "thresholdsStyle": Obj{"mode": "off"},
		"hideFrom": Obj{"legend": false, "tooltip": false, "viz": false},
	}
}

// timeseries is a time-series panel: unit is a Grafana unit id
// ("percentunit", "short", "none", ...).
func timeseries(title, description, unit string, targets ...*Target) *Panel {
	return &Panel{
		Type: "timeseries", Title: title, Description: description, Datasource: datasourceOf(targets),
		Targets: targets,
		FieldConfig: &FieldConfig{Defaults: Obj{
			"unit": unit, "color": Obj{"mode": "palette-classic"}, "custom": tsCustom("line", 10),
			"thresholds": greenSteps(), "mappings": []any{},
		}, Overrides: []Override{}},
		Options: Obj{"legend": legend(), "tooltip": tooltip()},
	}
}

// stat is a single-value panel showing the last non-null value.
func stat(title, description, unit string, thresholds Obj, targets ...*Target) *Panel {
	return &Panel{
		Type: "stat", Title: title, Description: description, Datasource: datasourceOf(targets),
		Targets: targets,
		FieldConfig: &FieldConfig{Defaults: Obj{
			"unit": unit, "color": Obj{"mode": "thresholds"}, "thresholds": thresholds, "mappings": []any{},
		}, Overrides: []Override{}},
		Options: Obj{
			"reduceOptions": Obj{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "background", "graphMode": "none", "justifyMode": "auto",
			"orientation": "auto", "textMode": "auto", "text": Obj{},
		},
	}
}

// table is a table panel.
func table(title, description string, targets ...*Target) *Panel {
	return &Panel{
		Type: "table", Title: title, Description: description, Datasource: datasourceOf(targets),
		Targets: targets,
		FieldConfig: &FieldConfig{Defaults: Obj{
			"color": Obj{"mode": "thresholds"}, "thresholds": greenSteps(), "mappings": []any{},
			"custom": Obj{"align": "auto", "cellOptions": Obj{"type": "auto"}, "inspect": false},
		}, Overrides: []Override{}},
		Options: Obj{"showHeader": true, "cellHeight": "sm",
			"footer": Obj{"show": false, "reducer": []string{"sum"}, "fields": ""}},
	}
}

// barchart is a categorical bar chart over a table result (x: xField).
func barchart(title, description, unit, xField string, targets ...*Target) *Panel {
	return &Panel{
		Type: "barchart", Title: title, Description: description, Datasource: datasourceOf(targets),
		Targets: targets,
		FieldConfig: &FieldConfig{Defaults: Obj{
			"unit": unit, "color": Obj{"mode": "palette-classic"}, "thresholds": greenSteps(), "mappings": []any{},
			"custom": Obj{"lineWidth": 1, "fillOpacity": 80, "gradientMode": "none", "axisPlacement": "auto",
				"axisLabel": "", "axisCenteredZero": false, "hideFrom": Obj{"legend": false, "tooltip": false, "viz": false}},
		}, Overrides: []Override{}},
		Options: Obj{"xField": xField, "orientation": "auto", "showValue": "auto", "stacking": "none",
			"groupWidth": 0.7, "barWidth": 0.9, "barRadius": 0, "xTickLabelRotation": 0, "xTickLabelSpacing": 0,
			"legend": legend(), "tooltip": tooltip()},
	}
}

// text is a markdown panel.
func text(title, markdown string) *Panel {
	return &Panel{Type: "text", Title: title,
		Options: Obj{"mode": "markdown", "content": markdown, "code": Obj{"language": "plaintext", "showLineNumbers": false, "showMiniMap": false}}}
}

func datasourceOf(targets []*Target) *DS {
	if len(targets) == 0 {
		return nil
	}
	ds := targets[0].Datasource
	for _, t := range targets[1:] {
		if t.Datasource.UID != ds.UID {
			return &DS{Type: "datasource", UID: "-- Mixed --"}
		}
	}
	return ds
}

// Fluent modifiers.

func (p *Panel) interval(i string) *Panel { p.Interval = i; return p }

func (p *Panel) set(key string, v any) *Panel { p.FieldConfig.Defaults[key] = v; return p }

func (p *Panel) custom(key string, v any) *Panel {
	p.FieldConfig.Defaults["custom"].(Obj)[key] = v
	return p
}

func (p *Panel) option(key string, v any) *Panel { p.Options[key] = v; return p }

// bars draws the series as bars.
func (p *Panel) bars() *Panel {
	p.custom("drawStyle", "bars")
	p.custom("fillOpacity", 70)
	p.custom("lineWidth", 1)
	return p
}

// stacked stacks the series.
func (p *Panel) stacked() *Panel {
	return p.custom("stacking", Obj{"mode": "normal", "group": "A"})
}

// thresholdLines draws the thresholds as dashed lines.
func (p *Panel) thresholdLines(t Obj) *Panel {
	p.set("thresholds", t)
	return p.custom("thresholdsStyle", Obj{"mode": "dashed"})
}

// override adds properties for the fields a matcher selects: id is a
// matcher id ("byName", "byFrameRefID", "byRegexp").
func (p *Panel) override(id, opt string, props ...Obj) *Panel {
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, Override{
		Matcher: Obj{"id": id, "options": opt}, Properties: props})
	return p
}

func prop(id string, v any) Obj { return Obj{"id": id, "value": v} }

// rightAxis puts the matched fields on a right-hand axis with their unit.
func rightAxis(unit string) []Obj {
	return []Obj{prop("custom.axisPlacement", "right"), prop("unit", unit)}
}

// dashed draws the matched series as thin dashed lines (reference levels).
func dashed(color string) []Obj {
	return []Obj{
		prop("custom.lineStyle", Obj{"fill": "dash", "dash": []int{10, 10}}),
		prop("custom.lineWidth", 1), prop("custom.fillOpacity", 0), prop("custom.showPoints", "never"),
		prop("color", Obj{"mode": "fixed", "fixedColor": color}),
	}
}
