#!/usr/bin/env bash
# Trains on a borrowed GPU machine that has JAX but no TensorFlow or Keras, and writes the
# results to $OUT (see lipmotion_tf/train/device_run.py).
#
#   training/device_train.sh CONFIG PACK MINUTES OUT [--set SECTION.KEY=VALUE ...]
#
# Keras and its pure-Python needs come from the wheel set in ${WHEELS:-.whl}
# (training/fetch_device_wheels.sh), installed into a temporary folder; nothing else is
# installed. PYTHON picks the interpreter (default python3).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 CONFIG PACK MINUTES OUT [--set SECTION.KEY=VALUE ...]" >&2
    exit 2
fi
config=$1 pack=$2 minutes=$3 out=$4
shift 4
python=${PYTHON:-python3}
wheels=${WHEELS:-.whl}
repo=$(cd "$(dirname "$0")/.." && pwd)
if ! ls "$wheels"/*.whl >/dev/null 2>&1; then
    echo "$0: no wheels in $wheels: run training/fetch_device_wheels.sh first" >&2
    exit 2
fi
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
# Pure-Python wheels always; compiled ones only where they fit this Python (the wheel set
# holds the GPU machine's builds, so a CPU rehearsal on another Python uses its own).
for wheel in "$wheels"/*.whl; do
    if ! "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target "$site" "$wheel" 2>/dev/null; then
        case $wheel in
            *-none-any.whl) echo "$0: cannot install $wheel" >&2; exit 1 ;;
            *) echo "$0: $(basename "$wheel") is not for this Python; using the installed one" ;;
        esac
    fi
done
export PYTHONPATH="$site:$repo${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=jax
exec "$python" -m lipmotion_tf.train.device_run --config "$config" --data "$pack" \
    --minutes "$minutes" --out "$out" "$@"
