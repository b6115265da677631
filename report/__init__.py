"""costperf report: metrics and charts computed from validated data files (never from workload code)."""
