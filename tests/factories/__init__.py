"""Test data built through the real code paths (the course importer, the services)."""
