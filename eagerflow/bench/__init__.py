"""Benchmarks: `python -m eagerflow.bench` or `eagerflow bench` prints a Markdown table of medians,
every figure a ratio to eager NumPy measured in the same run."""
