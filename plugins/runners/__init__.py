"""Built-in trial runners."""
