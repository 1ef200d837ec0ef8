// Package indicator is the single definition of trustpipe's trust indicators,
// the Trust Index built from them, the explanation of an Index change, and
// the divergence check (DESIGN.md, "Trust indicators").
//
// Why one package: the same formula is needed by the ClickHouse indicator
// views, `trustpipe report`, the Prometheus gauges and the Grafana
// dashboards. If any of them wrote a formula by hand, the numbers on a
// dashboard and in a report would drift apart the first time a definition
// changed. So every indicator is data — a Definition whose numerator and
// denominator are Selectors over the rows of the `trust_counts` view — and
// that data has exactly two renderings:
//
//   - Go: Totals accumulated from trust_counts rows, and Definition.Evaluate.
//   - SQL: Selector.SQL, Definition.NumeratorSQL and DenominatorSQL, a
//     ClickHouse aggregate expression over trust_counts columns using only
//     sumIf, IN, AND, OR and comparisons, so it runs unchanged on ClickHouse
//     18.16 (the version tests use) and on current releases.
//
// Both renderings are derived from the same Selector, and the tests check
// that they agree by interpreting the rendered SQL over the same rows.
//
// The Trust Index (ComputeIndex) scores each trust indicator linearly between
// a documented "bad" (0) and "good" (100) threshold, leaves out components
// with too little volume or no data, renormalises the remaining weights, and
// reports every component's value, score, weight and contribution so that
// the Index can always be explained; ExplainChange says which components
// moved it between two periods, and DetectDivergence flags the
// self-referential optimisation trap (click metrics up, trust down).
//
// Concurrency: everything here is a pure function of its arguments, with no
// clock, no I/O and no package-level mutable state; All and ByName return
// fresh copies. All functions and methods are safe for concurrent use. A
// Totals value may be read concurrently; Totals.Add mutates it and must not
// race with other use of the same value.
package indicator
