"""What the org holds: describe to JSON Schema, objects that cannot be read as plain streams, the org's id."""
