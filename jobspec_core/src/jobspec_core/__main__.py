"""``python -m jobspec_core`` is the ``jobspec`` command."""

import sys

from .cli.main import main

sys.exit(main())
