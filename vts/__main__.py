"""`python -m vts` is `vts`."""

from __future__ import annotations

import sys

from vts.cli import main

sys.exit(main())
