"""Benchmarks (not tests): standalone scripts, results in bench/results/ and docs/benchmarks.md."""
