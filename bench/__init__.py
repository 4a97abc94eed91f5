"""teampulse's benchmarks: `make bench` runs bench/run.py (python -m bench.run)."""
