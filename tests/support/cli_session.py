"""A CLI session for tests: a line goes to InvokeCLI as if typed, and its last printed line comes back."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any


class CliSession:
    """``InvokeCLI`` with its output captured; ``say`` fails with the whole output when a line is refused."""

    def __init__(self, gen: Any, outdir: Path, **options: Any) -> None:
        from ldm.invoke.cli import InvokeCLI

        self.out = StringIO()
        self.cli = InvokeCLI(gen, outdir, out=self.out, **options)

    def say(self, line: str) -> str:
        """Runs one line; its last line of output (a result's "path: command", or !fetch's command)."""
        self.out.truncate(0)
        self.out.seek(0)
        assert self.cli.execute(line) is None, self.out.getvalue()
        return self.out.getvalue().strip().splitlines()[-1]

    def made(self, line: str) -> Path:
        """Runs a generating line; the PNG it wrote."""
        said = self.say(line)
        found = re.match(r"(\S+\.png): ", said)
        assert found, f"no image in {said!r}"
        return Path(found.group(1))
