"""``python -m atalaya`` runs the ``atalaya`` command."""

from atalaya.cli import main

main()
