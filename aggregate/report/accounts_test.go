package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// TestAccountsSection renders the trap case with an account section (two
// accounts in alarm, one of them a target, and a quiet target) as a table,
// JSON and HTML; the table is golden (testdata/accounts.txt, -update), the
// JSON carries the summary unchanged, and the page lists the same
// accounts.
func TestAccountsSection(t *testing.T) {
	in := cases(t)["trap"]
	first, last := day("2026-11-13"), day("2026-11-19")
	pseudo := func(c string) string { return strings.Repeat(c, 32) }
	hs := []indicator.AccountHistory{
		{Account: pseudo("a"), Days: []indicator.AccountDay{
			{Day: day("2026-11-14"), Delivered: 30, Unsubscribes: 1, PullbackContacts: []string{"c1"}, LostContacts: []string{"c1"}},
			{Day: day("2026-11-16"), Delivered: 20, Complaints: 1, PullbackContacts: []string{"c2"}},
		}},
		{Account: pseudo("b"), Days: []indicator.AccountDay{
			{Day: day("2026-11-01"), SentimentReports: 2, SentimentNanos: 800_000_000},
			{Day: day("2026-11-15"), Delivered: 5, PredictiveSends: 5},
			{Day: day("2026-11-17"), SentimentReports: 3, SentimentNanos: -1_200_000_000},
		}},
		{Account: pseudo("c"), Days: []indicator.AccountDay{{Day: day("2026-11-18"), Delivered: 12}}},
	}
	sum := indicator.DefaultAccountRule().EvaluateAccounts(hs, []string{pseudo("b"), pseudo("d")}, first, last)
	in.Accounts = &sum
	r := Build(in)
	var table, js, page bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	i := strings.Index(table.String(), "\nACCOUNTS")
	if i < 0 {
		t.Fatalf("no ACCOUNTS section:\n%s", table.String())
	}
	testkit.Golden(t, filepath.Join("testdata", "accounts.txt"), table.Bytes()[i+1:])
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Accounts indicator.AccountSummary `json:"accounts"`
	}
	if err := json.Unmarshal(js.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if j.Accounts.InAlarm != 2 || j.Accounts.TargetsInAlarm != 1 || j.Accounts.Accounts != 3 || len(j.Accounts.TargetAccounts) != 2 {
		t.Errorf("JSON accounts %+v: want 2 of 3 in alarm, 1 target of 2", j.Accounts)
	}
	if len(j.Accounts.Alarms) != 2 || j.Accounts.Alarms[0].Account != pseudo("b") || !j.Accounts.Alarms[0].Target {
		t.Errorf("alarms %+v: want the target %s first", j.Accounts.Alarms, pseudo("b"))
	}
	if err := BuildOverview(r, in.Divergence.Index, OverviewInput{}).WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-section="accounts"`, pseudo("a"), pseudo("b"), pseudo("d"), "2 of 3 active accounts in alarm"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page.String(), pseudo("c")) {
		t.Error("the page lists an account that is neither in alarm nor a target")
	}
	// Under a filter there is no section at all.
	in.Accounts = nil
	js.Reset()
	if err := Build(in).WriteJSON(&js); err != nil || bytes.Contains(js.Bytes(), []byte(`"accounts"`)) {
		t.Errorf("report without accounts mentions them (%v)", err)
	}
}
