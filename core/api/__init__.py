"""The Python API: create, drive and read experiment groups from Python code."""
