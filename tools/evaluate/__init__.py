"""Measure the pipeline against the shared dev evaluation set, read in place and never copied."""
