"""Business rules as plain functions with explicit arguments.

Nothing here reads the request or the logged-in user, so views, the CLI, the API and the
tests all call the same code.
"""
