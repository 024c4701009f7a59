"""Run the project CLI as ``python -m <package> VERB``."""

import sys

from .cli import main

sys.exit(main())
