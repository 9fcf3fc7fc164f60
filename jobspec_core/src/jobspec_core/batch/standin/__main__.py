"""``python -m jobspec_core.batch.standin``: see the package docstring."""

import sys

from . import main

sys.exit(main())
