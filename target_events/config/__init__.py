"""The target's settings: declared, parsed and checked once, never quoting a secret."""
