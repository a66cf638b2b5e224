"""Durable batch files (Parquet, JSONL, CSV) from any Singer stream."""
