package main

import (
	"github.com/trustpipe/trustpipe/sink"
)

// readSurfaceViews are the views migrate creates beyond the storage read
// surface: the indicator views, generated from the indicator definitions,
// the Trust Index views for TRUSTPIPE_INDEX_COMPONENTS (the documented
// defaults when unset), and the account views with the pseudonyms of
// TRUSTPIPE_TARGET_ACCOUNTS. loadConfig has already refused a value that does
// not parse.
func readSurfaceViews(c Config) ([]sink.View, error) {
	idx, err := c.indexConfig()
	if err != nil {
		return nil, c.explainSetting(err)
	}
	targets, err := c.targetAccounts()
	if err != nil {
		return nil, err
	}
	return append(sink.ReadSurfaceViews(idx), sink.AccountViews(targets)...), nil
}
