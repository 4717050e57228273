"""The runner kit every runner builds on: attempts (stop, grace period, kill, timeout, exit), process facts, GPU slots, following output."""
