"""Analyses over the IR. Each pass returns a new result and never modifies the graph."""
