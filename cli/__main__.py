"""`python -m tkitrack.cli`: the same as the `tkitrack` command."""

from tkitrack.cli import main

main()
