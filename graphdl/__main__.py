"""``python -m graphdl``: the same command line as ``graphdl``."""

import sys

from graphdl.cli import main

if __name__ == "__main__":
    sys.exit(main())
