"""``python -m invokeai_gui``: the same as the ``invokeai`` command."""

import sys

from invokeai_gui.main import main

sys.exit(main())
