"""Benchmarks (``make bench``); the scripts are named ``bench_*.py`` so pytest does not collect them."""
