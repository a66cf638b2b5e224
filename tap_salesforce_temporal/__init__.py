"""Salesforce history extraction as a Singer tap.

The package is laid out by stage, in the order a row travels (README "Architecture"):

- ``config``: what the user gives (settings, the objects named, catalog and STATE files),
  checked once; ``errors``: typed errors and what a Salesforce failure means;
- ``connection``: the OAuth login, one HTTP session (retries, session refresh, limits), bounds
  on every exchange, which URLs may receive a credential;
- ``discovery``: describe to JSON Schema, objects that are not plain streams, the org's id;
- ``query``: SOQL, REST pages and Bulk API 2.0 jobs, read as typed Arrow pages (``reader``);
- ``streams``: one stream per object (and ``micro_decision_events``, derived from the same
  pages by the rules in ``events``), each choosing one emitter when its sync starts;
- ``output``: the ways out: RECORD lines a page at a time, Parquet BATCH files;
- ``run``: the run's shared state, streams side by side under one baton;
- ``tap`` (with ``sdk_hooks``, its one seam to singer-sdk), ``cli`` and ``commands``: the
  command line; ``airbyte``: the same tap as an Airbyte source.

Lower stages never import higher ones (``tests/unit/test_import_graph.py``).
"""
