"""Modules the benchmark scripts share; not benchmarks themselves (``./dev bench`` skips them)."""
