#!/usr/bin/env python3
"""``python scripts/invoke.py --web``, as the InvokeAI 2.x user guide documents: a shim over ``invokeai``."""

import sys
from pathlib import Path

# Run from a source checkout without installing: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from invokeai_gui.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
