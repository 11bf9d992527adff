"""Serve an exported model over gRPC with TensorFlow Serving's PredictionService API.

Loads the newest version under --model-base-path (written by `lipmotion export saved-model`,
of the motion model or the paper model: a motion version's serving_default is computed as
`lipmotion generate` does, giving its frames),
or the model and version a TensorFlow Serving model config file names (--model-config-file:
its name, its absolute base_path, the version its policy chooses, its version labels; what
this server cannot honour is refused), replays its warm-up requests, then answers Predict and
GetModelMetadata until Ctrl-C or SIGTERM. Each request is bounded (size, declared tensor
sizes, speech duration, windows and response size, its deadline) and excess load is refused
with RESOURCE_EXHAUSTED. On SIGTERM or Ctrl-C running requests get --grace-period seconds to
finish, are then cancelled, and the process exits. Clients written for TensorFlow Serving
work unchanged; production deployments can run `tensorflow_model_server` on the same folder
(see docs/deployment.md).
"""

from __future__ import annotations

import argparse

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION

HELP = "serve an exported model over gRPC (TensorFlow Serving's PredictionService)"
DEFAULT_MODEL_NAME = "lipmotion"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-base-path", metavar="MODEL_BASE",
                        help="folder holding numbered versions (MODEL_BASE/N/saved_model.pb); "
                        "the newest is served")
    parser.add_argument("--model-config-file", metavar="MODELS_CONFIG",
                        help="serve the model named in this TensorFlow Serving model config "
                        "file (text ModelServerConfig, e.g. export/tf_serving/models.config): "
                        "one model, its base_path an absolute folder on this machine, its "
                        "version policy latest or one specific version; instead of "
                        "--model-base-path and --model-name")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (0.0.0.0 for every interface)")
    parser.add_argument("--model-name",
                        help="model name clients put in model_spec.name (default: lipmotion)")
    parser.add_argument("--max-concurrent", "--workers", dest="max_concurrent", type=int,
                        default=8, help="Predict requests computed at the same time")
    parser.add_argument("--max-queue", type=int, default=16,
                        help="Predict requests waiting for a turn; more are refused "
                        "(RESOURCE_EXHAUSTED)")
    parser.add_argument("--max-request-mb", type=float, default=64.0,
                        help="refuse larger Predict requests (gRPC's receive limit: "
                        "RESOURCE_EXHAUSTED before the request is read)")
    parser.add_argument("--max-response-mb", type=float, default=320.0,
                        help="refuse requests whose answer would be larger, before computing "
                        "it (INVALID_ARGUMENT); clients must accept messages this large "
                        "(15 minutes of serving_default frames take 264 MiB; a stock TF "
                        "Serving client takes 4 MiB unless its max_receive_message_length is "
                        "raised)")
    parser.add_argument("--max-windows", type=int, default=64,
                        help="most windows of one generate_window request (INVALID_ARGUMENT)")
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


def build_server(args: argparse.Namespace):
    """The :class:`~lipmotion_tf.serving.server.ModelServer` the arguments describe, not
    started yet (the model is loaded by ``start()``).

    Raises:
        InputError: no model source or two, an out-of-range limit, or a model config file
            this server cannot honour.
    """
    import functools
    import math

    from lipmotion_tf.errors import InputError
    from lipmotion_tf.serving.server import (
        GRPC_MESSAGE_CAP,
        RESPONSE_OVERHEAD_BYTES,
        ModelServer,
    )

    if args.model_config_file is not None:
        given = [flag for flag, value in (("--model-base-path", args.model_base_path),
                                          ("--model-name", args.model_name)) if value is not None]
        if given:
            raise InputError(f"--model-config-file names the model and its path; do not give "
                             f"{' or '.join(given)} as well")
    elif args.model_base_path is None:
        raise InputError("give --model-base-path (a folder of numbered versions) or "
                         "--model-config-file (a TF Serving models.config)")
    largest_mb = GRPC_MESSAGE_CAP / (1 << 20)
    if not 0 < args.max_request_mb <= largest_mb:  # NaN and inf included
        raise InputError(f"--max-request-mb must be positive and at most {largest_mb:.0f} "
                         f"(gRPC's largest message), got {args.max_request_mb}")
    largest_response_mb = (GRPC_MESSAGE_CAP - RESPONSE_OVERHEAD_BYTES) / (1 << 20)
    if not 0 < args.max_response_mb <= largest_response_mb:
        raise InputError(f"--max-response-mb must be positive and at most "
                         f"{largest_response_mb:.0f}, got {args.max_response_mb}")
    if args.max_windows < 1:
        raise InputError(f"--max-windows must be at least 1, got {args.max_windows}")
    if not 0 <= args.grace_period < math.inf:
        raise InputError(f"--grace-period must be 0 or more seconds, got {args.grace_period}")
    if args.model_config_file is not None:
        make_server = functools.partial(ModelServer.from_config_file, args.model_config_file)
    else:
        name = DEFAULT_MODEL_NAME if args.model_name is None else args.model_name
        make_server = functools.partial(ModelServer, args.model_base_path, model_name=name)
    return make_server(
        host=args.host,
        port=args.port,
        max_concurrent=args.max_concurrent,
        max_queue=args.max_queue,
        max_request_bytes=max(1, int(args.max_request_mb * (1 << 20))),
        max_response_bytes=max(1, int(args.max_response_mb * (1 << 20))),
        max_windows=args.max_windows,
        max_duration=args.max_duration,
        grace_period=args.grace_period,
        warmup=args.warmup,
    )


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from lipmotion_tf.cli.interrupts import terminate_as_interrupt

    server = build_server(args)
    # SIGTERM stops the server as Ctrl-C does (a KeyboardInterrupt in this thread). Once
    # stopping, the default handlers are back: a second SIGTERM ends the process at once.
    with terminate_as_interrupt():
        server.start()
        warmup = f", warmed up in {server.warmup_seconds:.1f} s" if args.warmup else ""
        print(
            f"serving model '{server.model_name}' version {server.model.version} from "
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
