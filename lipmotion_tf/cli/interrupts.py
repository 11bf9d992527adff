"""SIGTERM handled as Ctrl-C, so that ``kill`` or a job scheduler stopping a command runs the
same clean-up (temporary outputs removed, one line, exit code 130) as an interactive stop.

A stop is also remembered, because the KeyboardInterrupt it raises can be lost: raised while
a garbage-collection callback runs (JAX registers one), it is printed as "Exception ignored"
and dropped, and the command would go on and finish. :func:`raise_if_interrupted`, called by
:func:`~lipmotion_tf.output_files.write_atomically` before it puts an output in place, raises
it again, so a stopped command never completes its output.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

_stopped = threading.Event()


def _interrupt(signum, frame):
    _stopped.set()
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raises KeyboardInterrupt if Ctrl-C or SIGTERM came during the current
    :func:`terminate_as_interrupt` block, even when that interrupt was swallowed."""
    if _stopped.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (and Ctrl-C, as before) raises KeyboardInterrupt in the main
    thread and is remembered for :func:`raise_if_interrupted`; the previous handlers are
    restored after it. Elsewhere than the main thread (where Python cannot set handlers) it
    does nothing. A SIGINT that was ignored (a command started with ``nohup``) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _stopped.clear()
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _stopped.clear()
