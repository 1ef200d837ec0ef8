package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// goldenResult is the golden form of one decoded input.
type goldenResult struct {
	File      string        `json:"file"`
	Event     *goldenEvent  `json:"event,omitempty"`
	Rejection *goldenReject `json:"rejection,omitempty"`
}

type goldenEvent struct {
	ID              string  `json:"id"`
	Type            string  `json:"type"`
	OccurredAt      string  `json:"occurred_at"`
	ContactID       string  `json:"contact_id"`
	AccountID       string  `json:"account_id"`
	CampaignID      string  `json:"campaign_id"`
	Channel         string  `json:"channel"`
	Segment         string  `json:"segment"`
	Source          string  `json:"source"`
	ConsentTier     uint8   `json:"consent_tier"`
	Personalization string  `json:"personalization"`
	Reason          string  `json:"reason"`
	Detail          string  `json:"detail"`
	Score           float64 `json:"score"`
	FromTier        uint8   `json:"from_tier"`
	ToTier          uint8   `json:"to_tier"`
	// v1.1, omitted when zero so the results of v1 inputs stay as they were.
	MessageID        string   `json:"message_id,omitempty"`
	SentAt           string   `json:"sent_at,omitempty"`
	MailboxProvider  string   `json:"mailbox_provider,omitempty"`
	SendingDomain    string   `json:"sending_domain,omitempty"`
	UnresolvedTokens uint32   `json:"unresolved_tokens,omitempty"`
	FallbackTokens   uint32   `json:"fallback_tokens,omitempty"`
	BrokenLinks      uint32   `json:"broken_links,omitempty"`
	Inputs           []string `json:"inputs,omitempty"`
	ReasonVisible    bool     `json:"reason_visible,omitempty"`
}

type goldenReject struct {
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
}

// TestGolden decodes every testdata/decode/*.json input and compares the
// full results (all Event fields, or reason and detail) with
// testdata/decode.golden. Run with -update to rewrite it after an intended
// change, and review the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "decode", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	slices.Sort(files)
	d := NewDecoder(DefaultLimits())
	var results []goldenResult
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev Event
		r := goldenResult{File: filepath.Base(f)}
		if rej := d.Decode(data, refTime, &ev); rej != nil {
			r.Rejection = &goldenReject{rej.Reason, rej.Detail}
		} else {
			r.Event = &goldenEvent{ev.ID, ev.Type.String(), ev.OccurredAt.Format(time.RFC3339Nano), ev.ContactID, ev.AccountID,
				ev.CampaignID, ev.Channel, ev.Segment, ev.Source, ev.ConsentTier, ev.Personalization, ev.Reason, ev.Detail,
				ev.Score, ev.FromTier, ev.ToTier, ev.MessageID, "", ev.MailboxProvider, ev.SendingDomain,
				ev.UnresolvedTokens, ev.FallbackTokens, ev.BrokenLinks, ev.Inputs, ev.ReasonVisible}
			if !ev.SentAt.IsZero() {
				r.Event.SentAt = ev.SentAt.Format(time.RFC3339Nano)
			}
		}
		if strings.HasPrefix(r.File, "valid_") != (r.Event != nil) {
			t.Errorf("%s: file name says valid_/reject_ but got %+v", r.File, r.Rejection)
		}
		if strings.HasPrefix(r.File, "reject_") && r.Rejection != nil && !strings.HasPrefix(r.File, "reject_"+string(r.Rejection.Reason)) {
			t.Errorf("%s: rejected with %s, which the file name does not say", r.File, r.Rejection.Reason)
		}
		results = append(results, r)
	}
	got, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	testkit.Golden(t, filepath.Join("testdata", "decode.golden"), got)
}
