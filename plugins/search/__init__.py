"""Built-in search algorithms."""
