"""A flushed batch made durable as files: deduplicated, partitioned, named and written."""
