package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// accountOracle is the account side of the produced records, read from
// their JSON with encoding/json (not the contract decoder) and keyed by
// the raw account id: per UTC day, the events per measure, the sentiment
// in nano-units, and the contacts behind the pullbacks.
type accountOracle map[string]map[string]*oracleDay

type oracleDay struct {
	delivered, unsubs, optDowns, complaints, tooPersonal, predictive, reports int
	nanos                                                                     int64
	pulled, lost                                                              map[string]bool
}

func (ao accountOracle) add(t *testing.T, rec scenario.Record) {
	if rec.Invalid != "" {
		return
	}
	var v struct {
		Type            string    `json:"type"`
		OccurredAt      time.Time `json:"occurred_at"`
		Contact         string    `json:"contact_id"`
		Account         string    `json:"account_id"`
		Personalization string    `json:"personalization"`
		Properties      struct {
			Kind  string  `json:"kind"`
			Score float64 `json:"score"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		t.Fatalf("produced record %s: %v", rec.Value, err)
	}
	if v.Account == "" {
		return
	}
	dayKey := v.OccurredAt.UTC().Format("2006-01-02")
	if ao[v.Account] == nil {
		ao[v.Account] = map[string]*oracleDay{}
	}
	d := ao[v.Account][dayKey]
	if d == nil {
		d = &oracleDay{pulled: map[string]bool{}, lost: map[string]bool{}}
		ao[v.Account][dayKey] = d
	}
	pull, lost := true, false
	switch {
	case v.Type == "delivered":
		d.delivered, pull = d.delivered+1, false
	case v.Type == "unsubscribe":
		d.unsubs, lost = d.unsubs+1, true
	case v.Type == "opt_down":
		d.optDowns, lost = d.optDowns+1, true
	case v.Type == "complaint":
		d.complaints++
	case v.Type == "feedback" && v.Properties.Kind == "too_personal":
		d.tooPersonal++
	case v.Type == "send" && v.Personalization == "predictive":
		d.predictive, pull = d.predictive+1, false
	case v.Type == "sentiment":
		d.reports, pull = d.reports+1, false
		d.nanos += int64(math.Round(v.Properties.Score * 1e9))
	default:
		return
	}
	if pull {
		d.pulled[v.Contact] = true
		if lost {
			d.lost[v.Contact] = true
		}
	}
}

// oracleStatus is the README's account rule applied to one account's
// produced records over the UTC days first..last.
type oracleStatus struct {
	alarm, pullbackAlarm, moodAlarm                               bool
	delivered, unsubs, optDowns, complaints, tooPersonal, predict int
	lost, pullbackMax                                             int
	afterMean, beforeMean                                         *float64
}

func (ao accountOracle) judge(account string, first, last time.Time) oracleStatus {
	var s oracleStatus
	days := ao[account]
	at := func(t time.Time) *oracleDay { return days[t.Format("2006-01-02")] }
	lost := map[string]bool{}
	var firstPredictive time.Time
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		d := at(t)
		if d == nil {
			continue
		}
		s.delivered, s.unsubs, s.optDowns = s.delivered+d.delivered, s.unsubs+d.unsubs, s.optDowns+d.optDowns
		s.complaints, s.tooPersonal, s.predict = s.complaints+d.complaints, s.tooPersonal+d.tooPersonal, s.predict+d.predictive
		for c := range d.lost {
			lost[c] = true
		}
		if d.predictive > 0 && firstPredictive.IsZero() {
			firstPredictive = t
		}
		// Two or more distinct contacts within 7 days: the span ending
		// today, cut at the period's start.
		span := map[string]bool{}
		for u := t.AddDate(0, 0, -6); !u.After(t); u = u.AddDate(0, 0, 1) {
			if x := at(u); x != nil && !u.Before(first) {
				for c := range x.pulled {
					span[c] = true
				}
			}
		}
		s.pullbackMax = max(s.pullbackMax, len(span))
	}
	s.lost = len(lost)
	s.pullbackAlarm = s.pullbackMax >= 2
	if !firstPredictive.IsZero() {
		mean := func(from, to time.Time) (*float64, int) {
			var n int
			var nanos int64
			for u := from; !u.After(to); u = u.AddDate(0, 0, 1) {
				if x := at(u); x != nil {
					n, nanos = n+x.reports, nanos+x.nanos
				}
			}
			if n == 0 {
				return nil, 0
			}
			m := float64(nanos) / 1e9 / float64(n)
			return &m, n
		}
		end := min(firstPredictive.AddDate(0, 0, 6).Unix(), last.Unix())
		var n int
		s.afterMean, n = mean(firstPredictive, time.Unix(end, 0).UTC())
		s.beforeMean, _ = mean(firstPredictive.AddDate(0, 0, -28), firstPredictive.AddDate(0, 0, -1))
		base := 0.0
		if s.beforeMean != nil {
			base = *s.beforeMean
		}
		s.moodAlarm = n >= 3 && *s.afterMean < 0 && *s.afterMean < base
	}
	s.alarm = s.pullbackAlarm || s.moodAlarm
	return s
}

// pseudonymOf is the stored pseudonym of a raw id under the test key:
// HMAC-SHA256, the first 128 bits in hex, computed here without consumers.
func pseudonymOf(id string) string {
	m := hmac.New(sha256.New, []byte("e2e-test-pseudonym-key-0123456789"))
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// TestReportAccountsMatchProducedEvents runs the account-pullback scenario
// through the real binary: the report's accounts in alarm, its per-account
// counts and the target accounts' verdicts equal the documented rule
// applied to the produced records; the target list mixes raw ids (hashed
// at configuration) and a pseudonym; no raw account id is stored.
func TestReportAccountsMatchProducedEvents(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n = 40000
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g, err := scenario.New(scenario.Config{Name: "account-pullback", Events: n, Days: 14, Seed: 20261120, End: end,
		Contacts: 4000, Accounts: 400, InvalidRatio: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	oracle := accountOracle{}
	raw := map[string]bool{}
	produceGenerated(t, brokers, g, func(rec scenario.Record) {
		oracle.add(t, rec)
		if len(rec.Key) > 0 {
			raw[string(rec.Key)] = true
		}
	})
	for a := range oracle {
		raw[a] = true
	}

	// The story's accounts as raw ids, one of them given as its pseudonym.
	targets := scenario.TargetAccounts("account-pullback")
	if len(targets) < 3 {
		t.Fatalf("scenario target accounts %v", targets)
	}
	listed := slices.Clone(targets)
	listed[0] = pseudonymOf(listed[0])
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=5000", "TRUSTPIPE_FLUSH_INTERVAL=200ms",
		"TRUSTPIPE_TARGET_ACCOUNTS="+strings.Join(listed, ","))
	st := openLiveStore(t, chAddr, db)
	proc, out := startTrustpipe(t, env, "run")
	waitFor(t, "every record in the ledger", 3*time.Minute, out, func() bool {
		c, err := st.Consumed(context.Background())
		return err == nil && c == n
	})
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}

	first, last := time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	var j struct {
		Accounts struct {
			Accounts       int             `json:"accounts"`
			InAlarm        int             `json:"in_alarm"`
			Targets        int             `json:"targets"`
			TargetsInAlarm int             `json:"targets_in_alarm"`
			Truncated      bool            `json:"truncated"`
			Alarms         []accountJSON   `json:"alarms"`
			TargetAccounts []accountJSON   `json:"target_accounts"`
			Rule           json.RawMessage `json:"rule"`
		} `json:"accounts"`
	}
	rawJSON := runReport(t, env, "--from", "2026-11-13", "--to", "2026-11-20", "--format", "json")
	if err := json.Unmarshal(rawJSON, &j); err != nil {
		t.Fatalf("%v\n%s", err, rawJSON)
	}
	a := j.Accounts

	// Every account of the oracle, judged by the rule.
	byPseudonym := map[string]string{}
	wantAlarm, active := map[string]oracleStatus{}, 0
	for acct := range oracle {
		byPseudonym[pseudonymOf(acct)] = acct
		s := oracle.judge(acct, first, last)
		if s.delivered+s.unsubs+s.optDowns+s.complaints+s.tooPersonal+s.predict > 0 || hasReports(oracle[acct], first, last) {
			active++
		}
		if s.alarm {
			wantAlarm[pseudonymOf(acct)] = s
		}
	}
	if a.Accounts != active || a.InAlarm != len(wantAlarm) || a.Truncated {
		t.Errorf("accounts %d, in alarm %d (truncated %v); want %d and %d", a.Accounts, a.InAlarm, a.Truncated, active, len(wantAlarm))
	}
	check := func(s accountJSON) {
		acct, ok := byPseudonym[s.Account]
		if !ok && s.Delivered+s.Unsubscribes > 0 {
			t.Errorf("report lists %s, which no produced record names", s.Account)
			return
		}
		o := oracle.judge(acct, first, last)
		got := []int{s.Delivered, s.Unsubscribes, s.OptDowns, s.Complaints, s.TooPersonal, s.PredictiveSends, s.ContactsLost, s.Pullback.Contacts}
		want := []int{o.delivered, o.unsubs, o.optDowns, o.complaints, o.tooPersonal, o.predict, o.lost, o.pullbackMax}
		if !slices.Equal(got, want) || s.InAlarm != o.alarm || s.Pullback.Alarm != o.pullbackAlarm || s.Mood.Alarm != o.moodAlarm ||
			!eqPtr(s.Mood.After.Mean, o.afterMean) || !eqPtr(s.Mood.Before.Mean, o.beforeMean) {
			t.Errorf("account %s (%s): counts %v alarm %v/%v/%v sentiment %s/%s; want %v alarm %v/%v/%v sentiment %s/%s", s.Account, acct,
				got, s.InAlarm, s.Pullback.Alarm, s.Mood.Alarm, fmtPtr(s.Mood.After.Mean), fmtPtr(s.Mood.Before.Mean),
				want, o.alarm, o.pullbackAlarm, o.moodAlarm, fmtPtr(o.afterMean), fmtPtr(o.beforeMean))
		}
	}
	for _, s := range a.Alarms {
		if _, ok := wantAlarm[s.Account]; !ok {
			t.Errorf("%s in alarm, but not by the rule", s.Account)
		}
		check(s)
	}
	targetsInAlarm, pullbackSide, moodSide := 0, 0, 0
	for i, s := range a.TargetAccounts {
		if want := pseudonymOf(targets[i]); s.Account != want || !s.Target {
			t.Errorf("target %d: %s (target %v), want %s", i, s.Account, s.Target, want)
		}
		check(s)
		if s.InAlarm {
			targetsInAlarm++
		}
		if s.Pullback.Alarm {
			pullbackSide++
		}
		if s.Mood.Alarm {
			moodSide++
		}
	}
	if a.Targets != len(targets) || a.TargetsInAlarm != targetsInAlarm {
		t.Errorf("targets %d, in alarm %d; want %d and %d", a.Targets, a.TargetsInAlarm, len(targets), targetsInAlarm)
	}
	// The scenario's story: both kinds of trouble reach the report.
	if pullbackSide == 0 || moodSide == 0 {
		t.Errorf("target accounts in alarm by pullbacks %d, by predictive sentiment %d: the scenario should show both", pullbackSide, moodSide)
	}
	t.Logf("%d of %d accounts in alarm; %d of %d targets (%d by pullbacks, %d by sentiment)", a.InAlarm, a.Accounts, targetsInAlarm, len(targets), pullbackSide, moodSide)

	table := string(runReport(t, env, "--from", "2026-11-13", "--to", "2026-11-20"))
	if !strings.Contains(table, "ACCOUNTS   ") || !strings.Contains(table, pseudonymOf(targets[1])) {
		t.Errorf("table lacks the account section or a target:\n%s", table)
	}
	// No raw id anywhere in the database; the account tables hold the
	// pseudonyms.
	assertNoRawIDs(t, st.Conn(), db, raw)
	if c := queryUint(t, st.Conn(), "SELECT count() FROM "+db+".account_pullbacks WHERE account = '"+pseudonymOf(targets[1])+"'"); c == 0 {
		t.Errorf("no pullback row under the pseudonym of %s", targets[1])
	}
}

func hasReports(days map[string]*oracleDay, first, last time.Time) bool {
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		if d := days[t.Format("2006-01-02")]; d != nil && d.reports > 0 {
			return true
		}
	}
	return false
}

// accountJSON is an account of the report's JSON, decoded independently of
// the Go types.
type accountJSON struct {
	Account         string `json:"account"`
	Target          bool   `json:"target"`
	InAlarm         bool   `json:"in_alarm"`
	Delivered       int    `json:"delivered"`
	Unsubscribes    int    `json:"unsubscribes"`
	OptDowns        int    `json:"opt_downs"`
	Complaints      int    `json:"complaints"`
	TooPersonal     int    `json:"too_personal"`
	PredictiveSends int    `json:"predictive_sends"`
	ContactsLost    int    `json:"contacts_lost"`
	Pullback        struct {
		Alarm    bool `json:"alarm"`
		Contacts int  `json:"contacts"`
	} `json:"pullback"`
	Mood struct {
		Alarm bool `json:"alarm"`
		After struct {
			Mean *float64 `json:"mean"`
		} `json:"after"`
		Before struct {
			Mean *float64 `json:"mean"`
		} `json:"before"`
	} `json:"predictive_sentiment"`
}
