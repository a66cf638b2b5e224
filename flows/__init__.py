"""Scale-out on Prefect (issue #29): many orgs, each split into shards, into one lake.

``scale_out.sync_orgs`` is the flow: it plans each org (``tap-salesforce-temporal plan``), runs
every shard of every org as a Prefect task (``tap | target`` subprocesses, retried), each shard
resuming from its own STATE in a state store (``state_store``: a file per org and shard, on S3
or a local folder), then runs the decision report over the lake. Prefect schedules, retries and
records the runs; nothing here is a scheduler of its own.
"""
