"""``python -m tap_salesforce_temporal.sandbox`` is the ``salesforce-sandbox`` command."""

import sys

from .cli import main

sys.exit(main())
