"""The scenario runner: a pytest plugin plus the run session, probes and report."""
