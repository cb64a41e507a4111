"""`python -m slotlinks` is the `slotlinks` command."""

from slotlinks.cli import main

main()
