// Package dashboardcheck holds one test: it parses every PromQL expression
// of the Grafana dashboard in ../grafana with Prometheus' own PromQL parser
// and checks the series each one selects against the collector's real
// output.
//
// It is a module of its own because the parser lives in
// github.com/prometheus/prometheus, a large module that users of
// exporters/prometheus should not have in their module graph. The metric
// name and label checks also run, without the parser, in the tests of
// exporters/prometheus itself.
package dashboardcheck
