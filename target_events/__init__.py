"""Durable batch files (Parquet, JSONL, CSV) or Delta tables from any Singer stream.

The package is laid out by stage, in the order a record travels (README "Architecture"):

- ``target`` (with ``sdk_hooks``, its one seam to singer-sdk) runs the Singer protocol: messages
  in, STATE out once what it covers is durable;
- ``ingest``: lines read and routed (``reader``, ``router``), records checked and made Arrow
  tables (``intake`` and the converters), one ``sinks`` per stream holding a batch;
- ``land``: a flushed batch made durable as files (``outputs``, ``writers``, ``layout``);
- ``lake``: the same batch merged into a Delta table instead (current or history mode, full
  refreshes, key reconciliation, compaction);
- ``store``: where finished files go, atomically, on local disk or S3, and each run's staging;
- ``run``: one run's shared bookkeeping (``ledger``), its kind, quality check and end;
- ``config``: settings parsed and checked once; ``errors``: what a user can cause or fix;
- ``commands`` and ``report``: the companions on the command line (``cli``), reading what landed.

Lower stages never import higher ones (``tests/unit/test_import_graph.py``).
"""
