"""Benchmarks: each module prints `name: value (target ...)` lines, ratios measured in one run.

Run one with `python -m bench.<name>`, all with `python -m bench` (or `make bench`).
"""
