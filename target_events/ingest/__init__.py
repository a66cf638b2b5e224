"""Singer lines in: read, routed, checked and converted to Arrow tables, into each stream's sink."""
