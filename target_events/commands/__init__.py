"""The companions of the target on its command line: as-of, compact, reconcile, summary."""
