PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test test-slow bench clean

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	# mediapipe's metadata pins protobuf<5 and numpy<2, which TF 2.21 cannot use; its face mesh
	# runs fine without them (see README "Dependencies").
	$(BIN)/pip install --no-deps mediapipe==0.10.21
	$(BIN)/pip install --no-deps -e .
	# Keras wheels for the GPU machine (no TensorFlow, no Keras there); the CPU rehearsal
	# test installs them too.
	PYTHON=$(BIN)/python training/fetch_device_wheels.sh .whl

test:
	$(BIN)/python -m pytest -q --durations=15

test-slow:
	$(BIN)/python -m pytest -q -m slow --durations=15

bench:
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .whl
