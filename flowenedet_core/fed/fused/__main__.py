"""`python -m flowenedet_core.fed.fused`: the fused-vs-eager micro-benchmark (benchmark.py)."""

from .benchmark import main

main()
