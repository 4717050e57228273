"""The engine: drives one group while it holds the lease (loop, lease, recovery, collect, stops, slots, suggest, faults), and replay, restart, fork."""
