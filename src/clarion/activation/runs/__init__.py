"""Runs: dataflow runs (scheduled, ad hoc) executed by the worker, their reads, and export jobs."""
