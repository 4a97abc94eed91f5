"""The benchmark cases: each module's run(params) returns its rows (bench/table.py)."""
