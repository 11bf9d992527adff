"""The one rule for writing an output file: a failed run never loses or half-writes a file.

The content goes to a hidden temporary file in the output's own folder (so the final rename
stays on one file system and is atomic), is checked, and only then renamed over the output.
On any failure, Ctrl-C and SIGTERM included, the temporary is removed and an existing output
is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from lipmotion_tf.errors import InputError

PARTIAL_MARK = ".partial"


@contextlib.contextmanager
def write_atomically(path: str | Path,
                     verify: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yields a temporary path to write ``path``'s content to; renames it over ``path`` when
    the block succeeds and ``verify(temporary)`` (if given) raises nothing.

    The temporary keeps ``path``'s suffixes, since some writers (``np.save``, ``savefig``,
    Keras's ``save_weights`` wanting ``.weights.h5``) choose the format from them or append
    their own.

    Raises:
        InputError: the folder does not exist or cannot be written, or the rename fails.
    """
    path = Path(path)
    folder = path.parent
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.",
                                        suffix=PARTIAL_MARK + "".join(path.suffixes), dir=folder)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        os.chmod(temporary, 0o644)  # mkstemp makes it private; outputs are meant to be shared
        yield temporary
        if verify is not None:
            verify(temporary)
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def ensure_writable_folder(folder: str | Path, what: str = "output folder") -> Path:
    """Creates ``folder`` (and its parents) and checks that a file can be written in it.

    Raises:
        InputError: it is a file, or cannot be created or written to (one line naming it).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".write-check-", dir=folder)
    except OSError as error:
        raise InputError(f"cannot write the {what} {folder}: {error.strerror or error}") from None
    os.close(handle)
    os.unlink(name)
    return folder
