"""Reporting: the running tallies, the figures of a territory (live or from a closed
cycle's snapshot), the per-operator detail and the CSV/XLSX exports."""
