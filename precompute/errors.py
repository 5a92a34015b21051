"""The one rule every CLI of the project follows for failures a user can cause.

Bad input, bad files, locks, a full disk, a damaged database or an interrupted run each end in exactly one
line on stderr and a fixed exit status: ``error: ...`` and 2, or ``interrupted: ...`` and 130 for Ctrl-C.
No traceback and no source path is ever shown for these; a bug (any other exception) still shows its
traceback, because hiding it would make it unfixable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from core.errors import user_message

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def run_cli(fn: Callable[[], int], *, interrupted: str) -> int:
    """Call ``fn`` and turn every user-caused failure into one line and an exit status.

    Returns ``fn()``'s status; 2 after printing ``error: <message>`` for a failure the user can cause
    (:func:`user_message`); 130 after printing ``interrupted: <interrupted>`` for Ctrl-C. Other exceptions
    propagate (they are bugs, and their traceback is needed).
    """
    try:
        return fn()
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
