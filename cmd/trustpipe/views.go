package main

import (
	"github.com/trustpipe/trustpipe/sink"
)

// readSurfaceViews are the views migrate creates beyond the storage read
// surface: the indicator views, generated from the indicator definitions,
// and the Trust Index views for TRUSTPIPE_INDEX_COMPONENTS (the documented
// defaults when unset). loadConfig has already refused a value that does
// not parse.
func readSurfaceViews(c Config) ([]sink.View, error) {
	idx, err := c.indexConfig()
	if err != nil {
		return nil, c.explainSetting(err)
	}
	return sink.ReadSurfaceViews(idx), nil
}
