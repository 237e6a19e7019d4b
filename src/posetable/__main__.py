"""``python -m posetable`` runs the command line."""

import sys

from posetable.cli import main

sys.exit(main())
