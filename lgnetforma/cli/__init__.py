"""The `lgnetforma` command, one module per command group (`commands.py` lists them,
`main.py` is the entry point)."""
