"""Delta Lake tables: merges in current and history mode, full refreshes, key reconciliation, upkeep."""
