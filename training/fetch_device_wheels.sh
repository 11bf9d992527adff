#!/usr/bin/env bash
# Fetches what the GPU machine lacks for training (Keras and its needs that its image does
# not hold: namex, optree) as wheels into ${1:-.whl}, a git-ignored folder that travels to
# the machine with `carry`. The machine runs Python 3.12 on x86-64 Linux.
set -euo pipefail
dest=${1:-.whl}
python=${PYTHON:-python3}
mkdir -p "$dest"
"$python" -m pip download -q --no-deps --only-binary=:all: -d "$dest" keras==3.15.1 namex==0.1.0
"$python" -m pip download -q --no-deps --only-binary=:all: -d "$dest" --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 optree==0.20.0
du -sh "$dest"
