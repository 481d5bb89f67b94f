"""Benchmark evaluation: the benchmarks' prompt sets, the per-sample table, and the metrics
(pass@1 averaged over samples, pass@k, intervals and paired comparisons)."""
