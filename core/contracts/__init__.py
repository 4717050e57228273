"""What a plugin implements and how the core finds it: the searcher, runner and stopper contracts, the hooks, the registry and its guards."""
