"""Serve an exported model over gRPC with TensorFlow Serving's PredictionService API.

Loads the newest version under --model-base-path (written by `lipmotion export saved-model`),
replays its warm-up requests, then answers Predict and GetModelMetadata until Ctrl-C or
SIGTERM. Clients written for TensorFlow Serving work unchanged; production deployments can
run `tensorflow_model_server` on the same folder (see docs/deployment.md).
"""

from __future__ import annotations

import argparse

HELP = "serve an exported model over gRPC (TensorFlow Serving's PredictionService)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-base-path", required=True, metavar="MODEL_BASE",
                        help="folder holding numbered versions (MODEL_BASE/N/saved_model.pb)")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (0.0.0.0 for every interface)")
    parser.add_argument("--model-name", default="lipmotion",
                        help="model name clients put in model_spec.name")
    parser.add_argument("--workers", type=int, default=8, help="requests handled concurrently")
    parser.add_argument("--max-request-mb", type=float, default=64.0,
                        help="refuse larger Predict requests (INVALID_ARGUMENT)")
    # The default lives on the parser, not the flag: the help would show a store_false flag's
    # default as "(default: True)", which reads as if the flag were on.
    parser.set_defaults(warmup=True)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        default=argparse.SUPPRESS,
                        help="do not replay assets.extra/tf_serving_warmup_requests at start")


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from lipmotion_tf.errors import InputError
    from lipmotion_tf.serving.server import ModelServer

    if args.max_request_mb <= 0:
        raise InputError(f"--max-request-mb must be positive, got {args.max_request_mb}")
    server = ModelServer(
        args.model_base_path,
        model_name=args.model_name,
        host=args.host,
        port=args.port,
        max_workers=args.workers,
        max_request_bytes=int(args.max_request_mb * (1 << 20)),
        warmup=args.warmup,
    ).start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=2.0))
    warmup = f", warmed up in {server.warmup_seconds:.1f} s" if args.warmup else ""
    print(
        f"serving model '{args.model_name}' version {server.model.version} from "
        f"{server.model.version_dir} on {args.host}:{server.port} (gRPC){warmup}",
        flush=True,
    )
    try:
        server.wait()
    finally:
        server.stop(grace=2.0)
    print("server stopped", flush=True)
    return 0
