"""`python -m hpo` is the `hpo` command."""

from hpo.cli import main

main()
