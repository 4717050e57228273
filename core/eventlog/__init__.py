"""The event log, the single source of truth: the events, the store, its migrations, the state fold, the snapshot cache and the timepoint resolver (``--as-of``/``--until``/``--at``)."""
