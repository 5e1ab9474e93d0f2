"""``python -m zoo.cli`` is the ``zoo`` command, as it was when the CLI was one module."""

import sys

from zoo.cli.main import main

sys.exit(main())
