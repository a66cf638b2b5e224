"""The companions of the tap on its command line: catalog selection, shard plans."""
