"""``python -m zoo`` is the ``zoo`` command (so ``torchrun -m zoo train ...`` works)."""

import sys

from zoo.cli import main

sys.exit(main())
