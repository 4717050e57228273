"""Built-in stopping policies."""
