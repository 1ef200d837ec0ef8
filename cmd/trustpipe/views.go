package main

import (
	"fmt"
	"os"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// readSurfaceViews are the views migrate creates beyond the storage read
// surface: the indicator views, generated from the indicator definitions,
// and the Trust Index views for TRUSTPIPE_INDEX_COMPONENTS (the documented
// defaults when unset). A value that does not parse keeps the defaults and
// says so on stderr (`trustpipe run` and `report` reject it with the same
// error before they get here).
func readSurfaceViews() []sink.View {
	cfg, err := indicator.ParseIndexComponents(os.Getenv(indicator.EnvIndexComponents), indicator.DefaultIndexConfig())
	if err != nil {
		fmt.Fprintf(os.Stderr, "trustpipe: %v; the Trust Index views use the default components\n", err)
		cfg = indicator.DefaultIndexConfig()
	}
	return append(sink.IndicatorViews(), sink.IndexViews(cfg)...)
}
