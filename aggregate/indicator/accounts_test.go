package indicator

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// TestAccountRuleGolden applies the account alarm rule to hand-built
// accounts over the week 2026-11-14..2026-11-20 and compares the summary
// with the reviewed testdata/accounts.golden.json (regenerate with
// -update). Each account is one edge of the rule.
func TestAccountRuleGolden(t *testing.T) {
	first, last := time.Date(2026, 11, 14, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	day := func(offset int) time.Time { return first.AddDate(0, 0, offset) }
	pull := func(offset int, lost bool, contacts ...string) AccountDay {
		d := AccountDay{Day: day(offset), PullbackContacts: contacts}
		if lost {
			d.LostContacts, d.Unsubscribes = contacts, uint64(len(contacts))
		} else {
			d.Complaints = uint64(len(contacts))
		}
		return d
	}
	mood := func(offset int, predictive uint64, scores ...float64) AccountDay {
		d := AccountDay{Day: day(offset), PredictiveSends: predictive, Delivered: predictive}
		for _, s := range scores {
			d.SentimentReports++
			d.SentimentNanos += int64(s * ScoreScale)
		}
		return d
	}
	hs := []AccountHistory{
		// Two contacts leave three days apart: in alarm.
		{"two_within_week", []AccountDay{pull(1, true, "c1"), pull(4, false, "c2"), {Day: day(2), Delivered: 40}}},
		// One contact pulls back three times: one person, no alarm.
		{"one_contact_repeatedly", []AccountDay{pull(0, true, "c1"), pull(3, false, "c1"), pull(6, true, "c1")}},
		// Two contacts on the first and last day of a 7-day span: in alarm.
		{"span_edges", []AccountDay{pull(0, false, "c1"), pull(6, false, "c2")}},
		// A pullback before the period does not count.
		{"before_period", []AccountDay{pull(-1, true, "c1"), pull(2, true, "c2")}},
		// Sentiment sours after the first predictive send (day 2): 0.4 over
		// the 28 days before, -0.3 after, from 3 reports: in alarm.
		{"predictive_sours", []AccountDay{mood(-20, 0, 0.5, 0.3), mood(2, 5), mood(3, 0, -0.2, -0.5), mood(5, 0, -0.2)}},
		// No earlier reports: the baseline is neutral (0), and -0.1 is below it.
		{"no_baseline", []AccountDay{mood(0, 1, -0.1, -0.1, -0.1)}},
		// Always negative, and less so after: not turning negative.
		{"already_negative", []AccountDay{mood(-3, 0, -0.6, -0.8), mood(1, 2, -0.2, -0.2, -0.2)}},
		// Only two reports after the predictive send: too few.
		{"too_few_reports", []AccountDay{mood(1, 1, -0.9, -0.9)}},
		// Negative sentiment without any predictive send: no alarm.
		{"no_predictive", []AccountDay{mood(1, 0, -0.9, -0.9, -0.9)}},
		// Reports beyond the 7 days from the send (day 0 + 7 = day 7 is
		// outside the period anyway) and a baseline 29 days back are ignored.
		{"baseline_window", []AccountDay{mood(-29, 0, -1), mood(-28, 0, 0.1), mood(0, 1, -0.05, -0.05, -0.05)}},
	}
	targets := []string{"two_within_week", "no_baseline", "target_without_events", "no_baseline"}
	sum := DefaultAccountRule().EvaluateAccounts(hs, targets, first, last)
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "accounts.golden.json"), append(b, '\n'))
	// The headline counts, by hand.
	if sum.Accounts != uint64(len(hs)) || sum.InAlarm != 5 || sum.Targets != 3 || sum.TargetsInAlarm != 2 {
		t.Errorf("accounts %d, in alarm %d, targets %d, targets in alarm %d; want %d, 5, 3, 2",
			sum.Accounts, sum.InAlarm, sum.Targets, sum.TargetsInAlarm, len(hs))
	}
}

// TestAccountMeasure: which events count under which account measure.
func TestAccountMeasure(t *testing.T) {
	cases := []struct {
		ev   event.Event
		want string
	}{
		{event.Event{Type: event.Delivered, AccountID: "a"}, AccountDelivered},
		{event.Event{Type: event.Delivered}, ""}, // no account
		{event.Event{Type: event.Unsubscribe, AccountID: "a"}, AccountUnsubscribe},
		{event.Event{Type: event.OptDown, AccountID: "a"}, AccountOptDown},
		{event.Event{Type: event.Complaint, AccountID: "a"}, AccountComplaint},
		{event.Event{Type: event.Feedback, Detail: "too_personal", AccountID: "a"}, AccountTooPersonal},
		{event.Event{Type: event.Feedback, Detail: "not_relevant", AccountID: "a"}, ""},
		{event.Event{Type: event.Sentiment, AccountID: "a"}, AccountSentiment},
		{event.Event{Type: event.Send, Personalization: "predictive", AccountID: "a"}, AccountPredictiveSend},
		{event.Event{Type: event.Send, Personalization: "behavioral", AccountID: "a"}, ""},
		{event.Event{Type: event.Click, AccountID: "a"}, ""},
		{event.Event{Type: event.OptUp, AccountID: "a"}, ""},
	}
	for _, c := range cases {
		if got := AccountMeasure(&c.ev); got != c.want {
			t.Errorf("%s/%s/%s: %q, want %q", c.ev.Type, c.ev.Detail, c.ev.Personalization, got, c.want)
		}
	}
	for _, m := range AccountMeasures() {
		if IsLost(m) && !IsPullback(m) {
			t.Errorf("%s: lost but not a pullback", m)
		}
	}
}
