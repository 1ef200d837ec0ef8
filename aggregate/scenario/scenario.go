// Package scenario generates synthetic, realistic trust-event streams for
// `trustpipe gen` and `trustpipe demo`, and for tests that need a stream
// whose shape and totals are known in advance.
//
// A Generator yields exactly Config.Events Kafka records, in non-decreasing
// event-time order (re-sent duplicates aside, Config.DuplicateRatio) over
// Config.Days days ending at Config.End, so a produced
// topic looks like a live stream that has been recorded and replayed.
// Everything is derived from Config.Seed (math/rand/v2 PCG): the same Config
// always yields the same bytes, which is what makes the pipeline's exactness
// tests and the README's screenshots reproducible. The clock is never read:
// End is injected.
//
// A scenario is a per-day rate profile: each UTC day has its own rates
// (deliveries per send, opens, clicks, unsubscribes, complaints, feedback
// kinds, traffic sources, sentiment, personalization beyond consent, ...),
// interpolated between a start and an end profile over the last part of the
// period. Drift is therefore visible in daily series, which is what the
// dashboards and the Trust Index divergence detector look at.
//
// Sends follow a real programme's pattern: a daily email blast in one hour
// and triggered sends around the clock on several channels. Each send's
// follow-ups (delivery, opens, clicks, unsubscribes, complaints, ...) are
// decided with the rates of its day and arrive after their own delays
// (seconds to days), carrying the send's campaign_id, message_id and
// sent_at, so attributed rates (follow-ups over the deliveries they follow)
// are what the profile says while hourly ratios swing with the blast.
//
// Events are encoded with event.AppendJSON, the project's single contract
// encoder, so generated records are exactly what the decoder expects.
// Optionally a fraction of records is deliberately invalid (Config.
// InvalidRatio), one defect per record, so that tests exercise every
// dead-letter reason with independently known totals (Stats).
//
// Concurrency: a Generator is not safe for concurrent use; Names, Describe
// and New are.
package scenario

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultDays      = 28
	DefaultContacts  = 20000
	DefaultCampaigns = 40
)

// Upper bounds that keep a mistyped flag from allocating gigabytes or
// producing events older than the decoder's maximum age (400 days).
const (
	MaxDays      = 366
	MaxContacts  = 10_000_000
	MaxCampaigns = 10_000
)

// Config selects a scenario and sizes the generated stream.
type Config struct {
	// Name is the scenario, one of Names().
	Name string
	// Events is the exact number of records to yield (valid + invalid).
	Events int
	// Days is the length of the period in 24-hour days (default DefaultDays).
	Days int
	// Seed makes the stream deterministic: the same Config yields the same
	// bytes. Different seeds yield different streams.
	Seed int64
	// End is the upper bound of event time: events lie in
	// [End-Days*24h, End). It is injected, never read from the clock, so that
	// a stream is reproducible; callers usually pass time.Now().
	End time.Time
	// Contacts is the size of the contact population (default DefaultContacts).
	Contacts int
	// Accounts is the number of companies the contacts belong to
	// (default Contacts/8, at least 1).
	Accounts int
	// Campaigns is the number of campaigns (default DefaultCampaigns).
	Campaigns int
	// InvalidRatio is the probability that a record is deliberately invalid
	// (one defect, see InvalidKinds). 0 disables invalid records. The invalid
	// records are drawn from a separate random stream, so the valid records
	// of a run with InvalidRatio > 0 are a subset of the run without.
	InvalidRatio float64
	// DuplicateRatio is the probability that a valid record is re-sent as a
	// producer retry would: the same key, bytes and timestamp, either a few
	// records later or some thousands of records later. 0 (the default)
	// disables duplicates; Stats counts them apart from the unique events.
	DuplicateRatio float64
}

// uniqueTarget is the number of unique (non-duplicate) records a stream of
// Events records is planned with.
func (cfg Config) uniqueTarget() float64 {
	return float64(cfg.Events) / (1 + cfg.DuplicateRatio*(1-cfg.InvalidRatio))
}

// scenarioDef is a named rate profile: rates drift linearly from From to To
// over the last Drift fraction of the period.
type scenarioDef struct {
	name        string
	description string
	from, to    rates
	drift       float64
	// attributeBeyond attributes the complaints and "too personal" feedback
	// above the starting rate to sends made beyond the contact's consent
	// tier, so that splitting complaints by personalization shows the cause.
	attributeBeyond bool
}

var scenarios = map[string]*scenarioDef{}

func register(d *scenarioDef) { scenarios[d.name] = d }

// Names lists the valid scenario names, sorted.
func Names() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe returns a one-line description of a scenario, for CLI help.
func Describe(name string) (string, bool) {
	d, ok := scenarios[name]
	if !ok {
		return "", false
	}
	return d.description, true
}

// withDefaults validates cfg and fills zero-valued sizes. Errors name the
// offending field and value so a CLI can print them as they are.
func (cfg Config) withDefaults() (Config, *scenarioDef, error) {
	def, ok := scenarios[cfg.Name]
	if !ok {
		return cfg, nil, fmt.Errorf("scenario: unknown scenario %q (valid: %s)", cfg.Name, strings.Join(Names(), ", "))
	}
	var errs []string
	if cfg.Events < 0 {
		errs = append(errs, fmt.Sprintf("events must be >= 0, got %d", cfg.Events))
	}
	if cfg.Days == 0 {
		cfg.Days = DefaultDays
	}
	if cfg.Days < 0 || cfg.Days > MaxDays {
		errs = append(errs, fmt.Sprintf("days must be in 1..%d, got %d", MaxDays, cfg.Days))
	}
	if cfg.End.IsZero() {
		errs = append(errs, "end time must be set (pass the current time)")
	}
	if cfg.Contacts == 0 {
		cfg.Contacts = DefaultContacts
	}
	if cfg.Contacts < 0 || cfg.Contacts > MaxContacts {
		errs = append(errs, fmt.Sprintf("contacts must be in 1..%d, got %d", MaxContacts, cfg.Contacts))
	}
	if cfg.Accounts == 0 {
		cfg.Accounts = max(1, cfg.Contacts/8)
	}
	if cfg.Accounts < 0 || (cfg.Contacts > 0 && cfg.Accounts > cfg.Contacts) {
		errs = append(errs, fmt.Sprintf("accounts must be in 1..contacts (%d), got %d", cfg.Contacts, cfg.Accounts))
	}
	if cfg.Campaigns == 0 {
		cfg.Campaigns = DefaultCampaigns
	}
	if cfg.Campaigns < 0 || cfg.Campaigns > MaxCampaigns {
		errs = append(errs, fmt.Sprintf("campaigns must be in 1..%d, got %d", MaxCampaigns, cfg.Campaigns))
	}
	if !(cfg.InvalidRatio >= 0 && cfg.InvalidRatio <= 1) { // also rejects NaN
		errs = append(errs, fmt.Sprintf("invalid ratio must be in [0, 1], got %v", cfg.InvalidRatio))
	}
	if !(cfg.DuplicateRatio >= 0 && cfg.DuplicateRatio <= 1) {
		errs = append(errs, fmt.Sprintf("duplicate ratio must be in [0, 1], got %v", cfg.DuplicateRatio))
	}
	if len(errs) > 0 {
		return cfg, nil, errors.New("scenario " + cfg.Name + ": " + strings.Join(errs, "; "))
	}
	cfg.End = cfg.End.UTC()
	return cfg, def, nil
}
