package sink

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
)

// ViewAudienceDaily: day, engaged_contacts (distinct, by event day, as
// engaged_reach_total_daily), delivered_contacts and clickers (distinct,
// by send day), clicks (human) and top_decile_clicks (the clicks of the
// day's top tenth of clickers, indicator.TopDecileClicks) over every
// campaign and channel: the columns indicator.AudienceSignals divide. They
// are distinct counts and rankings of one day: a longer period's values
// are not the sums of its days (read them with Store.Audience).
const ViewAudienceDaily = "audience_daily"

// audienceQuery renders the audience counts over the read surface: per
// day when byDay is set, else one row. cond is a condition on day,
// campaign_id and channel (columns all three sources have), "" for none;
// the caller binds its arguments three times, once per source. Each source
// fills its own columns and zeros the others, and the outer sum puts them
// side by side: UNION ALL of identical types, which runs on ClickHouse
// 18.16 and current releases (a three-way join would need the rules of
// README "Query rules for joins" and gains nothing here).
func audienceQuery(byDay bool, cond string) string {
	key, group := "", ""
	if byDay {
		key, group = "day, ", " GROUP BY day"
	}
	and := ""
	if cond != "" {
		and = " AND " + cond
		cond = " WHERE " + cond
	}
	zero := "toUInt64(0)"
	return fmt.Sprintf(`SELECT %[1]s
	toUInt64(sum(e)) AS engaged_contacts, toUInt64(sum(d)) AS delivered_contacts, toUInt64(sum(k)) AS clicks,
	toUInt64(sum(n)) AS clickers, toUInt64(sum(t)) AS top_decile_clicks
FROM (
	SELECT %[1]suniqExact(contact) AS e, %[3]s AS d, %[3]s AS k, %[3]s AS n, %[3]s AS t
	FROM {db}.engaged_contacts%[4]s%[2]s
	UNION ALL
	SELECT %[1]s%[3]s AS e, uniqExact(contact) AS d, %[3]s AS k, %[3]s AS n, %[3]s AS t
	FROM {db}.%[6]s WHERE kind = %[7]s%[5]s%[2]s
	UNION ALL
	SELECT %[1]s%[3]s AS e, %[3]s AS d, toUInt64(sum(c)) AS k, toUInt64(count()) AS n, toUInt64(%[8]s) AS t
	FROM (
		SELECT %[1]scontact, sum(clicks) AS c
		FROM {db}.%[9]s%[4]s
		GROUP BY %[1]scontact
	)%[2]s
)%[2]s`, key, group, zero, cond, and, ViewUniqueEngagement, quoteString(aggregate.UniqueRecipient),
		indicator.TopDecileClicksSQL("c"), ViewContactClicks)
}

// audienceViews renders the audience view.
func audienceViews() []View {
	return []View{{Name: ViewAudienceDaily, Query: audienceQuery(true, "")}}
}

// audienceRange is the condition "the whole UTC days [p.From, p.To)
// touches" under the filter f (campaign and channel only), with its
// arguments repeated for the three sources of audienceQuery.
func audienceRange(p report.Period, f report.Filter) (string, []any) {
	first, last := p.From.UTC().Truncate(24*time.Hour), p.To.UTC().Add(-time.Second).Truncate(24*time.Hour)
	cond, args := where("day >= toDate(?) AND day <= toDate(?)", []any{first.Format("2006-01-02"), last.Format("2006-01-02")}, f)
	cond = strings.TrimPrefix(cond, " WHERE ")
	return cond, append(append(append([]any{}, args...), args...), args...)
}

// Audience reads the contact-level counts of the audience signals over the
// whole UTC days [p.From, p.To) touches (like Reach): distinct engaged
// contacts (event days), distinct delivered contacts, human clicks,
// distinct clickers and the clicks of the top tenth of clickers (send
// days; a clicker is ranked by their clicks over all the period's days and
// campaigns the filter keeps). Under a segment or source filter it returns
// nil: the delivery and click tables keep campaign and channel only.
func (s *Store) Audience(ctx context.Context, p report.Period, f report.Filter) (*indicator.Audience, error) {
	if f.Segment != nil || f.Source != nil {
		return nil, nil
	}
	cond, args := audienceRange(p, f)
	var a indicator.Audience
	q := strings.ReplaceAll(audienceQuery(false, cond), "{db}", s.db)
	if err := s.conn.QueryRow(ctx, q, args...).Scan(&a.EngagedContacts, &a.DeliveredContacts, &a.Clicks, &a.Clickers, &a.TopDecileClicks); err != nil {
		return nil, readError("audience", err)
	}
	return &a, nil
}

// AudienceDays reads the audience counts of every UTC day [p.From, p.To)
// touches under the campaign and channel filter, oldest first (days without
// any count are left out); nil under a segment or source filter.
func (s *Store) AudienceDays(ctx context.Context, p report.Period, f report.Filter) ([]report.DayAudience, error) {
	if f.Segment != nil || f.Source != nil {
		return nil, nil
	}
	cond, args := audienceRange(p, f)
	q := "SELECT toString(day) AS d, engaged_contacts, delivered_contacts, clicks, clickers, top_decile_clicks FROM (" +
		strings.ReplaceAll(audienceQuery(true, cond), "{db}", s.db) + ") ORDER BY d"
	var out []report.DayAudience
	err := s.query(ctx, "audience by day", q, args, func(rows driver.Rows) error {
		var d report.DayAudience
		a := &d.Audience
		if err := rows.Scan(&d.Day, &a.EngagedContacts, &a.DeliveredContacts, &a.Clicks, &a.Clickers, &a.TopDecileClicks); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}
