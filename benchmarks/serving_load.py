"""Load test of the gRPC server: concurrent clients, malformed requests mixed in, p50/p99 latency.

Usage::

    python benchmarks/serving_load.py                        # tiny random model, served in-process
    python benchmarks/serving_load.py --checkpoint lipmotion_tf/assets/demo --seconds 3
    python benchmarks/serving_load.py --model-base models/lipmotion
    python benchmarks/serving_load.py --target 127.0.0.1:8500   # a running server (TF Serving too)

By default 8 clients each send 50 ``serving_default`` requests of 0.64 s of speech on their own
channel; every 10th request of a client is malformed (wrong dtype, wrong shape, missing input,
unknown signature) and must be refused with INVALID_ARGUMENT while the others succeed. Prints
the counts, p50/p99/mean latency of the good requests and the throughput; exits non-zero when
any request went differently. Without ``--target`` the model is exported to a temporary folder
(when no ``--model-base`` is given) and served by ``ModelServer`` (what ``lipmotion serve``
runs) on a free port of 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--target", help="host:port of a running server")
    source.add_argument("--model-base", help="exported model base folder to serve")
    source.add_argument("--checkpoint", help="generator checkpoint to export and serve "
                        "(default: a tiny random generator)")
    parser.add_argument("--model-name", default="lipmotion")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    parser.add_argument("--malformed-every", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=0.64, help="speech per request")
    parser.add_argument("--max-concurrent", "--workers", dest="max_concurrent", type=int,
                        default=8, help="requests the server computes at once")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    return parser.parse_args(argv)


def export_model(checkpoint, folder: Path) -> Path:
    from lipmotion_tf.export.saved_model import export_saved_model

    if checkpoint:
        from lipmotion_tf.generate.checkpoint import load_generator

        generator, config = load_generator(checkpoint)
    else:
        from lipmotion_tf.models.factory import build_generator
        from lipmotion_tf.testing import tiny_experiment_config

        config = tiny_experiment_config()
        generator = build_generator(config)
    base = folder / "lipmotion"
    export_saved_model(generator, config, base)
    return base


def main(argv=None) -> int:
    from lipmotion_tf.serving.load_test import run_load_test
    from lipmotion_tf.serving.server import ModelServer

    args = parse_args(argv)

    def load(target: str):
        return run_load_test(target, args.model_name, clients=args.clients,
                             requests_per_client=args.requests,
                             malformed_every=args.malformed_every, seconds_of_speech=args.seconds)

    with tempfile.TemporaryDirectory(prefix="lipmotion-load-") as folder:
        if args.target:
            served, report = args.target, load(args.target)
        else:
            base = Path(args.model_base) if args.model_base else export_model(args.checkpoint,
                                                                             Path(folder))
            with ModelServer(base, args.model_name, port=0,
                             max_concurrent=args.max_concurrent) as server:
                model = args.checkpoint or args.model_base or "tiny random model"
                served = f"{model} on port {server.port}"
                report = load(f"127.0.0.1:{server.port}")
    print(f"server: {served}; {args.seconds:g} s of speech per request")
    print(report.summary())
    for failure in report.failures[:20]:
        print(f"  FAILED {failure}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "server": served, "seconds_of_speech": args.seconds, "clients": report.clients,
            "requests": report.requests, "succeeded": report.succeeded,
            "rejected": report.rejected, "failures": report.failures,
            "p50_s": report.percentile(50), "p99_s": report.percentile(99),
            "wall_s": report.wall_seconds,
        }, indent=1))
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
