"""``python -m occsim.cli``: the ``occsim`` command."""

from occsim.cli import main

main()
