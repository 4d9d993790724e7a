"""``python -m cypool.commands.bench``: the command (and the child of ``--processes``)."""
import sys

from . import main

sys.exit(main())
