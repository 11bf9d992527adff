"""The one rule for writing an output file: a failed run never loses or half-writes a file.

The content goes to a hidden temporary file in the output's own folder (so the final rename
stays on one file system and is atomic), is checked, and only then renamed over the output.
On any failure, Ctrl-C and SIGTERM included, the temporary is removed and an existing output
is left exactly as it was; a full disk (or quota) is one line naming the output. The file
gets the permissions a new file gets under the user's umask, or those of the file it
replaces (a private 0600 file stays private).

:func:`folder_lock` keeps two commands from writing one folder at the same time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from lipmotion_tf.cli.interrupts import raise_if_interrupted
from lipmotion_tf.errors import InputError

PARTIAL_MARK = ".partial"
# Errors of a write that ran out of room: the disk, the quota or the file size limit.
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# Characters a temporary's name has besides the output's name and suffixes: two dots and
# mkstemp's eight random characters.
_TEMPORARY_EXTRA = 2 + 8


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def output_mode(path: Path) -> int:
    """Permission bits for a file written at ``path``: those of the file there, or a new
    file's (0666 less the umask), as a program that opened ``path`` for writing would give."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def folder_mode() -> int:
    """Permission bits of a new folder under the umask (0777 less it)."""
    return 0o777 & ~_umask()


def name_max(folder: Path) -> int:
    """Longest file name, in bytes, the file system of ``folder`` takes (255 where unknown)."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def check_name_length(path: str | Path) -> None:
    """Refuses a file name longer than its folder's file system takes, before any work.

    Raises:
        InputError: the name is too long.
    """
    path = Path(path)
    length, limit = len(os.fsencode(path.name)), name_max(path.parent)
    if length > limit:
        raise InputError(f"cannot write {path}: its name is {length} bytes long, more than the "
                         f"{limit} its folder's file system takes")


@contextlib.contextmanager
def write_atomically(path: str | Path,
                     verify: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yields a temporary path to write ``path``'s content to; renames it over ``path`` when
    the block succeeds and ``verify(temporary)`` (if given) raises nothing.

    The temporary keeps ``path``'s suffixes, since some writers (``np.save``, ``savefig``,
    Keras's ``save_weights`` wanting ``.weights.h5``) choose the format from them or append
    their own.

    Raises:
        InputError: the folder does not exist or cannot be written, the disk (or quota) is
            full, or the rename fails.
    """
    path = Path(path)
    folder = path.parent
    suffix = PARTIAL_MARK + "".join(path.suffixes)
    # A name near the file system's limit leaves no room for the temporary's additions: the
    # temporary takes a shortened prefix (the final name is the one asked for).
    room = name_max(folder) - _TEMPORARY_EXTRA - len(os.fsencode(suffix))
    prefix = os.fsencode(path.name)[:max(room, 1)].decode(errors="ignore")
    mode = output_mode(path)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{prefix}.", suffix=suffix, dir=folder)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        os.chmod(temporary, mode)  # mkstemp makes it private
        try:
            yield temporary
        except OSError as error:
            if error.errno in _NO_ROOM:  # the disk filled while writing or closing
                raise InputError(f"cannot write {path}: {error.strerror or error}") from None
            raise
        if verify is not None:
            verify(temporary)
        raise_if_interrupted()  # a Ctrl-C a library swallowed still stops the command here
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "folder") -> Iterator[Path]:
    """Holds an exclusive lock on ``folder`` (created if missing) for the block, so that a
    second command writing the same folder is refused at once instead of interleaving its
    files with the first's. The lock is the kernel's (``flock`` on the folder itself), so it
    leaves no file behind and goes with the process that held it, however it ends. A folder
    this created and the block left empty is removed again.

    Raises:
        InputError: another process holds the lock, or the folder cannot be created.
    """
    import fcntl

    folder = Path(folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise InputError(f"cannot write the {what} {folder}: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise InputError(f"another command is writing to the {what} {folder}; wait for "
                             "it to end or choose another folder") from None
        yield folder
    finally:
        os.close(handle)  # releases the lock
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


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
