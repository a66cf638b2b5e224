"""``python -m synthetic_org`` is the ``synthetic-org`` command."""

import sys

from .cli import main

sys.exit(main())
