package scenario

import (
	"math"
	"slices"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// The account-pullback scenario (account-based marketing, see
// indicator.AccountRule). A healthy programme, except that over its last
// part a few large accounts go wrong in the two ways the account alarm
// rule watches for:
//
//   - pullbackAccounts: their contacts leave, opt down and complain at many
//     times the programme's rates (rates.AccountTrouble scales them), so
//     several distinct contacts of each pull back within days;
//   - moodAccounts: they are put into a predictive programme (sends to
//     their contacts become predictive, which they never were before), and
//     the sales team's sentiment reports on their contacts, positive until
//     then, turn negative.
//
// Sales sentiment on the mood accounts is reported all period long
// (rates.AccountMood reports per delivery), so the rule has a baseline to
// compare with. Everything else stays healthy; other large accounts can
// still cross the pullback line by chance, as real ones do.
var (
	pullbackAccounts = []int32{1, 4}
	moodAccounts     = []int32{2, 6}
)

// healthyTarget is a target account the story leaves alone: small enough
// that two of its contacts rarely pull back in one week by chance.
const healthyTarget = 60

// troubleMul is how many times the programme's unsubscribe, opt-down and
// complaint rates the pullback accounts' contacts reach at full trouble.
const troubleMul = 40

// moodScore is the mean sentiment on the mood accounts at full trouble.
const moodScore = -0.9

// TargetAccounts returns the raw account ids a scenario's story is about
// (the demo's target accounts), plus one healthy mid-sized account, so a
// target that stays out of alarm is shown too; nil for the others.
func TargetAccounts(name string) []string {
	d, ok := scenarios[name]
	if !ok || d.to.AccountTrouble == 0 {
		return nil
	}
	var out []string
	for _, a := range slices.Concat(pullbackAccounts, moodAccounts, []int32{healthyTarget}) {
		out = append(out, accountID(int(a)))
	}
	return out
}

func accountID(i int) string { return "acct-" + pad(i+1, 5) }

// troubled reports whether contact k's account is in list.
func (g *Generator) troubled(k int32, list []int32) bool {
	return slices.Contains(list, g.pop.contacts[k].account)
}

// accountLevel adjusts a send's personalization for the mood accounts:
// predictive with probability AccountTrouble, never predictive otherwise.
// No random number is drawn outside the scenario.
func (g *Generator) accountLevel(dy *day, k int32, level uint8) uint8 {
	if dy.r.AccountMood == 0 || !g.troubled(k, moodAccounts) {
		return level
	}
	if dy.r.AccountTrouble > 0 && g.rng.Float64() < dy.r.AccountTrouble {
		return levelPredictive
	}
	return min(level, levelBehavioral)
}

// pullbackMul is the factor on the pullback rates of a send to contact k.
func (g *Generator) pullbackMul(r *rates, k int32) float64 {
	if r.AccountTrouble == 0 || !g.troubled(k, pullbackAccounts) {
		return 1
	}
	return 1 + troubleMul*r.AccountTrouble
}

// accountSentiment schedules, after a delivered send s to a mood account,
// a sales sentiment report on its contact 1 to 48 hours later.
func (g *Generator) accountSentiment(s sent, r *rates) {
	if r.AccountMood == 0 || !g.troubled(s.contact, moodAccounts) || !g.chance(r.AccountMood) {
		return
	}
	at := ms(s.at + int64(time.Hour) + int64(g.rng.Float64()*float64(47*time.Hour)))
	if at >= g.tl.begin && at < g.tl.end {
		g.push(pending{at: at, s: s, typ: event.Sentiment, det: detAccount})
	}
}

// accountScore draws the score of a mood account's sentiment report.
func (g *Generator) accountScore(r *rates) float64 {
	mean := lerp(healthyRates.SentimentMean, moodScore, r.AccountTrouble)
	return math.Round(min(1, max(-1, mean+0.2*g.rng.NormFloat64()))*100) / 100
}

func init() {
	from := healthyRates
	from.AccountMood = 0.3
	to := from
	to.AccountTrouble = 1
	register(&scenarioDef{
		name:        "account-pullback",
		description: "last 30% of the period: in two large accounts several contacts unsubscribe, opt down and complain; two others are put into predictive sends and their sales sentiment turns negative; the rest of the programme stays healthy",
		from:        from, to: to, drift: 0.3,
	})
}
