"""``python -m fake_graph`` — the same as the ``fake-graph`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
