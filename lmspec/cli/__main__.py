"""`python -m lmspec.cli ARGS`: the `lmspec` command, for when its script is not on PATH."""

import sys

from lmspec.cli import main

if __name__ == "__main__":
    sys.exit(main())
