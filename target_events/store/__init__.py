"""Where finished files go, atomically, and each run's staging folder, on local disk or S3."""
