"""tkitrack benchmark suite: project timings against same-run baselines (run ``python -m bench`` from the repo root).

Not part of the test suite (pytest collects ``tests/`` only). See ``docs/benchmarks.md`` for the figures,
their baselines, the targets and the last recorded results.
"""
