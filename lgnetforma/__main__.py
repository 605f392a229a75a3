"""`python -m lgnetforma` is the `lgnetforma` command."""

from lgnetforma.cli.main import main

main()
