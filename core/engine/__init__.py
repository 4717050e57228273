"""The engine: drives one group while it holds the lease (loop, slots and launches, stops, lease, recovery), and replay, restart, fork."""
