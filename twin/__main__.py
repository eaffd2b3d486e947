"""``python -m twin``: the same as the ``twin`` command."""

from twin.cli import main

main()
