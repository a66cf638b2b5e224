"""One run's bookkeeping: the ledger its sinks share, its kind, the quality check and its end."""
