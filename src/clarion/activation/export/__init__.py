"""Exporting: an audience's members written as one file (CSV, JSON lines, Parquet) to a destination."""
