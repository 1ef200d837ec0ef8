package report

import (
	"cmp"
	"slices"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// Meaning sections of the report (DESIGN.md, "Attribution"): rates judged
// against the deliveries they follow, unique engagement, every rate per
// channel, and the email complaint rate per mailbox provider and sending
// domain. Their inputs come from the cohort and unique-engagement views,
// which keep campaign and channel but not segment or source: with a segment
// or source filter these sections are left out (Available false).

// Cohorts is the attributed side of the Input: the cohort totals of the
// messages sent in the period (sent_at's hour, else the follow-up's own
// hour, so a follow-up without sent_at still counts for its campaign).
type Cohorts struct {
	Available bool
	Totals    indicator.Totals
	// FollowUps and BySendTime count the follow-ups in Totals and those of
	// them that carried sent_at.
	FollowUps, BySendTime uint64
	// Unique is the unique engagement of the send days the period touches.
	Unique Unique
	// Complaints are the email complaint totals per mailbox provider and
	// per sending domain.
	Complaints []ComplaintGroup
}

// Unique counts distinct contacts of the send days a period touches.
type Unique struct {
	Recipients   uint64 `json:"recipients"`
	Openers      uint64 `json:"openers"`
	Clickers     uint64 `json:"clickers"`
	UniqueOpens  uint64 `json:"unique_opens"`  // recipients who opened (human opens)
	UniqueClicks uint64 `json:"unique_clicks"` // recipients who clicked (human clicks)
	// UniqueOpenRate and UniqueClickRate are UniqueOpens and UniqueClicks
	// over Recipients, never above 1; null without recipients.
	UniqueOpenRate  *float64 `json:"unique_open_rate"`
	UniqueClickRate *float64 `json:"unique_click_rate"`
}

// ComplaintGroup is one mailbox provider's or sending domain's email
// complaint rate.
type ComplaintGroup struct {
	By    string          `json:"by"` // mailbox_provider or sending_domain
	Group string          `json:"group"`
	Value indicator.Value `json:"complaint_rate"`
}

// Attributed is the report's attributed section.
type Attributed struct {
	Available bool `json:"available"`
	// Indicators are the attributed definitions over the cohorts sent in
	// the range.
	Indicators []indicator.Value `json:"indicators"`
	// BySendTimeShare is the share of follow-ups that carried sent_at and
	// so were attributed to their send hour; the rest were attributed to
	// their campaign only. Null without follow-ups.
	BySendTimeShare *float64         `json:"by_send_time_share"`
	Unique          Unique           `json:"unique_engagement"`
	Complaints      []ComplaintGroup `json:"email_complaints"`
}

// ChannelValues is every indicator over one channel's events.
type ChannelValues struct {
	Channel    string `json:"channel"`
	Events     uint64 `json:"events"`
	Indicators Values `json:"indicators"`
}

func buildAttributed(c Cohorts) Attributed {
	a := Attributed{Available: c.Available, Complaints: slices.Clone(c.Complaints), Unique: c.Unique}
	if !c.Available {
		return a
	}
	for _, d := range indicator.AttributedDefinitions() {
		a.Indicators = append(a.Indicators, d.Evaluate(c.Totals))
	}
	if c.FollowUps > 0 {
		s := float64(c.BySendTime) / float64(c.FollowUps)
		a.BySendTimeShare = &s
	}
	u := &a.Unique
	if u.Recipients > 0 {
		o, k := float64(u.UniqueOpens)/float64(u.Recipients), float64(u.UniqueClicks)/float64(u.Recipients)
		u.UniqueOpenRate, u.UniqueClickRate = &o, &k
	}
	if a.Complaints == nil {
		a.Complaints = []ComplaintGroup{}
	}
	slices.SortFunc(a.Complaints, func(x, y ComplaintGroup) int {
		return cmp.Or(cmp.Compare(x.By, y.By), cmp.Compare(y.Value.Denominator, x.Value.Denominator), cmp.Compare(x.Group, y.Group))
	})
	return a
}

// ComplaintTotals evaluates the complaint rate of one group's totals.
func ComplaintTotals(by, group string, t indicator.Totals) ComplaintGroup {
	d, _ := indicator.ByName(indicator.ComplaintRate)
	return ComplaintGroup{By: by, Group: group, Value: d.Evaluate(t)}
}

// buildChannels splits the period's totals by channel.
func buildChannels(cur indicator.Totals) []ChannelValues {
	by := map[string]*indicator.Totals{}
	for _, r := range cur.Rows() {
		if by[r.Channel] == nil {
			by[r.Channel] = &indicator.Totals{}
		}
		by[r.Channel].Add(r)
	}
	out := make([]ChannelValues, 0, len(by))
	for ch, t := range by {
		out = append(out, ChannelValues{Channel: ch, Events: totalEvents(*t), Indicators: Values(indicator.EvaluateAll(*t))})
	}
	slices.SortFunc(out, func(a, b ChannelValues) int {
		return cmp.Or(cmp.Compare(b.Events, a.Events), cmp.Compare(a.Channel, b.Channel))
	})
	return out
}

func directGrowth(in Input) *float64 {
	return indicator.DirectTrafficGrowth(in.Current, in.Baseline, in.Period.To.Sub(in.Period.From), in.Comparison.To.Sub(in.Comparison.From))
}

// channelColumns are the rates the table shows per channel (the JSON has
// every indicator).
var channelColumns = []string{indicator.DeliveryRate, indicator.UnsubscribeRate, indicator.ComplaintRate, indicator.OpenRate, indicator.CTR}

func (r Report) meaning(p *printer) {
	p.line("")
	if g := r.DirectTrafficGrowth; g != nil {
		p.line("DIRECT TRAFFIC   " + signedPct(*g) + " direct web sessions per day vs the compared period")
	} else {
		p.line("DIRECT TRAFFIC   no direct web sessions in the compared period")
	}
	if len(r.ByChannel) > 0 {
		p.line("")
		p.line("BY CHANNEL (event time; complaint rate counts email only)")
		head := []string{"CHANNEL", "EVENTS"}
		for _, c := range channelColumns {
			head = append(head, c)
		}
		rows := [][]string{head}
		for _, c := range r.ByChannel {
			row := []string{c.Channel, count(c.Events)}
			for _, name := range channelColumns {
				row = append(row, indicator.FormatValue(name, c.Indicators.Get(name)))
			}
			rows = append(rows, row)
		}
		p.table(rows)
	}
	a := r.Attributed
	p.line("")
	if !a.Available {
		p.line("ATTRIBUTED      not available with a segment or source filter (cohorts keep campaign and channel only)")
		return
	}
	share := "no follow-ups"
	if a.BySendTimeShare != nil {
		share = indicator.FormatValue(indicator.DeliveryRate, a.BySendTimeShare) + " of follow-ups carried sent_at; the rest count for their campaign"
	}
	p.line("ATTRIBUTED (follow-ups over the deliveries they follow, messages sent in the range; " + share + ")")
	rows := [][]string{{"INDICATOR", "VALUE", "VOLUME (NUM / DEN)"}}
	for _, v := range a.Indicators {
		rows = append(rows, []string{v.Name, indicator.FormatValue(v.Name, v.Value), number(v.Numerator) + " / " + number(v.Denominator)})
	}
	p.table(rows)
	u := a.Unique
	p.line("")
	p.line("UNIQUE ENGAGEMENT (distinct contacts of the send days; rates are recipients who opened or clicked / recipients)")
	p.table([][]string{
		{"RECIPIENTS", "OPENERS", "CLICKERS", "UNIQUE OPEN RATE", "UNIQUE CLICK RATE"},
		{count(u.Recipients), count(u.Openers), count(u.Clickers),
			indicator.FormatValue(indicator.OpenRate, u.UniqueOpenRate), indicator.FormatValue(indicator.CTR, u.UniqueClickRate)},
	})
	if len(a.Complaints) == 0 {
		return
	}
	p.line("")
	p.line("EMAIL COMPLAINTS BY MAILBOX PROVIDER AND SENDING DOMAIN (messages sent in the range; keep < 0.1 %, never >= 0.3 %)")
	rows = [][]string{{"BY", "GROUP", "COMPLAINT RATE", "COMPLAINTS / EMAIL DELIVERED"}}
	for _, c := range a.Complaints {
		rows = append(rows, []string{c.By, c.Group, indicator.FormatValue(indicator.ComplaintRate, c.Value.Value),
			number(c.Value.Numerator) + " / " + number(c.Value.Denominator)})
	}
	p.table(rows)
}
