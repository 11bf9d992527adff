"""Serve an exported model over gRPC with TensorFlow Serving's PredictionService API.

Loads the newest version under --model-base-path (written by `lipmotion export saved-model`),
replays its warm-up requests, then answers Predict and GetModelMetadata until Ctrl-C or
SIGTERM. Each request is bounded (size, declared tensor sizes, speech duration, its deadline)
and excess load is refused with RESOURCE_EXHAUSTED. On SIGTERM or Ctrl-C running requests get
--grace-period seconds to finish, are then cancelled, and the process exits. Clients written
for TensorFlow Serving work unchanged; production deployments can run
`tensorflow_model_server` on the same folder (see docs/deployment.md).
"""

from __future__ import annotations

import argparse

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION

HELP = "serve an exported model over gRPC (TensorFlow Serving's PredictionService)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-base-path", required=True, metavar="MODEL_BASE",
                        help="folder holding numbered versions (MODEL_BASE/N/saved_model.pb)")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (0.0.0.0 for every interface)")
    parser.add_argument("--model-name", default="lipmotion",
                        help="model name clients put in model_spec.name")
    parser.add_argument("--max-concurrent", "--workers", dest="max_concurrent", type=int,
                        default=8, help="Predict requests computed at the same time")
    parser.add_argument("--max-queue", type=int, default=16,
                        help="Predict requests waiting for a turn; more are refused "
                        "(RESOURCE_EXHAUSTED)")
    parser.add_argument("--max-request-mb", type=float, default=64.0,
                        help="refuse larger Predict requests (INVALID_ARGUMENT)")
    parser.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION,
                        help="refuse speech longer than this many seconds (INVALID_ARGUMENT; "
                        "inf: no limit)")
    parser.add_argument("--grace-period", type=float, default=5.0,
                        help="seconds running requests get to finish on SIGTERM or Ctrl-C "
                        "before they are cancelled")
    # The default lives on the parser, not the flag: the help would show a store_false flag's
    # default as "(default: True)", which reads as if the flag were on.
    parser.set_defaults(warmup=True)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        default=argparse.SUPPRESS,
                        help="do not replay assets.extra/tf_serving_warmup_requests at start")


def run(args: argparse.Namespace) -> int:
    import math
    import os
    import sys

    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.serving.server import ModelServer

    if not args.max_request_mb > 0:
        raise InputError(f"--max-request-mb must be positive, got {args.max_request_mb}")
    if not 0 <= args.grace_period < math.inf:
        raise InputError(f"--grace-period must be 0 or more seconds, got {args.grace_period}")
    server = ModelServer(
        args.model_base_path,
        model_name=args.model_name,
        host=args.host,
        port=args.port,
        max_concurrent=args.max_concurrent,
        max_queue=args.max_queue,
        max_request_bytes=int(args.max_request_mb * (1 << 20)),
        max_duration=args.max_duration,
        grace_period=args.grace_period,
        warmup=args.warmup,
    )
    # SIGTERM stops the server as Ctrl-C does (a KeyboardInterrupt in this thread). Once
    # stopping, the default handlers are back: a second SIGTERM ends the process at once.
    with terminate_as_interrupt():
        server.start()
        warmup = f", warmed up in {server.warmup_seconds:.1f} s" if args.warmup else ""
        print(
            f"serving model '{args.model_name}' version {server.model.version} from "
            f"{server.model.version_dir} on {args.host}:{server.port} (gRPC){warmup}",
            flush=True,
        )
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
    try:
        drained = server.stop()
    except KeyboardInterrupt:  # Ctrl-C again while draining: do not wait any more
        drained = False
    print("server stopped", flush=True)
    if not drained:
        # A request still inside a generator call would keep the interpreter from exiting
        # (it joins every worker thread) until the call ends; its client is answered already.
        print(f"lipmotion serve: {server.servicer.in_flight} cancelled request(s) still "
              "computing; exiting without them", file=sys.stderr, flush=True)
        os._exit(0)
    return 0
