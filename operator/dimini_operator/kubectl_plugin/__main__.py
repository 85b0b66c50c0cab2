"""`python -m dimini_operator.kubectl_plugin` is `kubectl dimini`."""

from __future__ import annotations

import sys

from dimini_operator.kubectl_plugin.cli import main

if __name__ == "__main__":
    sys.exit(main())
