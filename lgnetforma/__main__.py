"""`python -m lgnetforma` is the `lgnetforma` command."""

from lgnetforma.cli import main

main()
