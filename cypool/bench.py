"""``python -m cypool.bench``: the same command as ``cypool bench`` (cypool.commands.bench)."""
import sys

from .commands.bench import main

if __name__ == "__main__":
    sys.exit(main())
