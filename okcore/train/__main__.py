"""``python -m okcore.train``: see :mod:`okcore.train.cli`."""

import sys

from okcore.train.cli import main

sys.exit(main())
