"""``python -m okcore.experiments SET``: see :mod:`okcore.experiments`."""

import sys

from okcore.experiments import main

sys.exit(main())
