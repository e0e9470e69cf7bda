// Package cputime reads the CPU time this process has used, for the
// benchmarks' CPU reports (cmd/notifier-bench and the delivery benchmarks).
package cputime
