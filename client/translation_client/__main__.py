"""`python -m translation_client`: the vts-client command line."""

from __future__ import annotations

import sys

from translation_client._cli import main

sys.exit(main())
