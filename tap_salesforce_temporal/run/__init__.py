"""One run's shared state and timing: streams side by side under one baton, the COUNTs sent first, periodic tasks' cadence."""
