package main

import "github.com/trustpipe/trustpipe/sink"

// readSurfaceViews are the views migrate creates beyond the storage read
// surface: the indicator views, generated from the indicator definitions.
func readSurfaceViews() []sink.View { return sink.IndicatorViews() }
