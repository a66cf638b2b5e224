"""What the user gives the tap, checked once: settings, the objects they name, the catalog and STATE files."""
