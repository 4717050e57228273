"""The event log, the single source of truth: the events, the store, its migrations, the state fold and the snapshot cache."""
