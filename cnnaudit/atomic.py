"""Write a report file whole or not at all: a CI step reading it never sees half of it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import UsageError


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to a temporary file in `path`'s folder, then rename it over `path`
    (os.replace is atomic within a file system). An existing file keeps its permissions; a
    new one gets the usual ones (0666 minus the umask), not mkstemp's 0600."""
    import tempfile  # (here: a check that writes no file need not import it)

    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise UsageError(f"cannot write {target}: it is a folder", hint="give a file name")
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: folder {folder} does not exist")
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
