"""The libraries' own log lines (TensorFlow, absl, mediapipe, the CUDA probe), hidden unless asked.

On a CPU-only machine ``import tensorflow`` and mediapipe's face mesh print a dozen lines
before a command prints anything (``I0000 ... cudart_stub.cc] Could not find cuda drivers``,
``E0000 ... failed call to cuInit``, ``W0000 ... inference_feedback_manager.cc] Feedback
manager requires a model with a single signature inference``, ``WARNING: All log messages
before absl::InitializeLog() is called are written to STDERR``), and ``prepare`` repeats them
for every worker. None of them is about the user's input, and one of them says "error".

:func:`quiet_library_logs` runs before those libraries load (``lipmotion``'s entry point,
``prepare``'s worker processes, the example scripts) and

* sets the levels the libraries read when they load, where the environment does not set them
  already (a value the user gave wins): ``TF_CPP_MIN_LOG_LEVEL=3`` (TensorFlow's C++ logs),
  ``GLOG_minloglevel=2`` (glog: errors and worse); and absl's and TensorFlow's Python loggers
  to errors;
* and, because TensorFlow 2.21 and mediapipe write some lines before they read those levels,
  drops those lines from what native code writes to the process's standard error: a pipe
  stands in for file descriptor 2, and a thread passes on every line that is not a library
  log line (:data:`LIBRARY_LINE`: ``I``/``W``/``E`` lines in absl's and glog's format,
  TensorFlow's dated format, absl's ``InitializeLog`` notice, TFLite's ``INFO:`` and
  ``WARNING:`` lines). Python's own ``sys.stderr`` (progress bars, warnings, tracebacks,
  the program's messages) is moved to a copy of the original descriptor and does not pass
  through the filter; fatal (``F``) lines and everything else native code writes are passed
  on.

``verbose=True`` (``lipmotion --verbose``) or ``LIPMOTION_VERBOSE=1`` leaves all of it as the
libraries do it; so does ``TF_CPP_MIN_LOG_LEVEL=0`` or ``GLOG_minloglevel=0`` set by the user
(they asked for every line). The filter is installed once per process, and only where
``sys.stderr`` is the process's own standard error (not under pytest's capture, for example).
If a command dies without a message, run it again with ``--verbose``: a native crash's last
line may not get through the filter before the process ends.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import MutableMapping

VERBOSE_VARIABLE = "LIPMOTION_VERBOSE"

#: What the libraries read when they load; a value already in the environment is kept.
LIBRARY_LOG_SETTINGS = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ logging: fatal only (errors raise in Python)
    "GLOG_minloglevel": "2",  # glog (mediapipe): errors and fatal
}

#: A line native code writes that is a library's log line, not the program's output.
LIBRARY_LINE = re.compile(
    rb"^(?:"
    rb"[IWE]\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] "  # absl / glog: W0000 00:00:17.2   4607 file.cc:114]
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] "  # TensorFlow's dated format
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|(?:INFO|WARNING): "  # the TFLite runtime (XNNPACK delegate created, ...)
    rb"|To enable the following instructions: .*rebuild TensorFlow"  # 2nd line of a TF notice
    rb")"
)

_installed = False


def is_verbose(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether ``LIPMOTION_VERBOSE`` asks for the libraries' logs (``1``, ``true``, ``yes``)."""
    environ = os.environ if environ is None else environ
    return environ.get(VERBOSE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def is_library_line(line: bytes) -> bool:
    """Whether ``line`` (one line of native standard error) is a library's log line."""
    return LIBRARY_LINE.match(line.lstrip(b"\r")) is not None


def quiet_library_logs(verbose: bool | None = None,
                       environ: MutableMapping[str, str] | None = None,
                       filter_stderr: bool = True) -> bool:
    """Hides the libraries' log lines unless ``verbose`` (see the module docstring).

    Call it before TensorFlow, absl or mediapipe is imported: the levels are read when they
    load. Calling it again does no harm.

    Args:
        verbose: show the libraries' logs; default: ``LIPMOTION_VERBOSE``. True also sets
            ``LIPMOTION_VERBOSE=1`` in ``environ``, so that worker processes show them too.
        environ: the environment to change (default ``os.environ``).
        filter_stderr: also drop library lines from native standard error (a pipe and a
            thread; only in the process's own standard error, once per process).

    Returns:
        Whether the libraries' logs are hidden.
    """
    environ = os.environ if environ is None else environ
    if verbose is None:
        verbose = is_verbose(environ)
    if verbose:
        environ[VERBOSE_VARIABLE] = "1"
        return False
    asked_for_all = any(environ.get(name, "").strip() == "0" for name in LIBRARY_LOG_SETTINGS)
    for name, value in LIBRARY_LOG_SETTINGS.items():
        environ.setdefault(name, value)
    _quiet_python_loggers()
    if filter_stderr and not asked_for_all and environ is os.environ:
        _filter_native_stderr()
    return True


def _quiet_python_loggers() -> None:
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging
    except ImportError:  # absl comes with TensorFlow; without it there is nothing to quiet
        return
    absl_logging.set_verbosity(absl_logging.ERROR)
    absl_logging.set_stderrthreshold("error")


def _filter_native_stderr() -> None:
    """Puts a pipe in place of file descriptor 2 and a thread that passes on every line that
    is not a library log line; ``sys.stderr`` writes to a copy of the original descriptor."""
    global _installed
    if _installed or os.name != "posix" or sys.stderr is None or sys.stderr is not sys.__stderr__:
        return
    try:
        if sys.stderr.fileno() != 2:
            return
        sys.stderr.flush()
        original = os.dup(2)
        read_end, write_end = os.pipe()
        wake_read, wake_write = os.pipe()
    except (OSError, ValueError, AttributeError):  # no real descriptor 2 (embedded, closed)
        return
    import atexit
    import faulthandler
    import io

    encoding, errors = sys.stderr.encoding, sys.stderr.errors
    os.dup2(write_end, 2)
    os.close(write_end)
    stream = io.TextIOWrapper(io.FileIO(original, "w", closefd=False), encoding=encoding,
                              errors=errors, line_buffering=True, write_through=True)
    sys.stderr = sys.__stderr__ = stream
    if faulthandler.is_enabled():  # a crash's traceback must not wait for the thread
        faulthandler.enable(file=stream)
    pump = threading.Thread(target=_pass_on, args=(read_end, original, wake_read),
                            name="library-log-filter", daemon=True)
    pump.start()
    _installed = True

    def restore() -> None:
        # Native writes from here on go straight to the original standard error; the thread
        # passes on what is left in the pipe, then stops (worker processes that still hold
        # the pipe, such as multiprocessing's resource tracker, are not waited for).
        try:
            os.dup2(original, 2)
            os.write(wake_write, b"x")
        except OSError:
            return
        pump.join(timeout=2.0)

    atexit.register(restore)


def _pass_on(read_end: int, out: int, wake: int) -> None:
    """Copies ``read_end`` to ``out`` without the library lines, until the pipe closes, or
    until it stays empty for 50 ms once ``wake`` is readable.

    A line still being written is passed on at once unless it may become a library line, so
    progress bars drawn with carriage returns are not held back.
    """
    import select

    pending = b""
    stopping = False
    while True:
        if stopping:
            ready, _, _ = select.select([read_end], [], [], 0.05)
            if not ready:
                break
        else:
            ready, _, _ = select.select([read_end, wake], [], [])
            stopping = wake in ready
            if read_end not in ready:
                continue
        try:
            chunk = os.read(read_end, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = [line + b"\n" for line in lines if not is_library_line(line)]
        if pending and not _may_become_library_line(pending):
            kept.append(pending)
            pending = b""
        if kept and not _write_all(out, b"".join(kept)):
            return
    if pending and not is_library_line(pending):
        _write_all(out, pending)


def _may_become_library_line(start: bytes) -> bool:
    start = start.lstrip(b"\r")
    if len(start) < 12:
        return start[:1] in b"IWEFT0123456789"
    return is_library_line(start) or re.match(rb"[IWE]\d{4} |\d{4}-\d\d-\d\d ", start) is not None


def _write_all(out: int, data: bytes) -> bool:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(out, view):]
    except OSError:  # the terminal is gone
        return False
    return True
