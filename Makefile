# Two entry points: `make demo` builds the default dataset, `make test` runs the tests.
# Both create .venv and install what they need on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
OUT     ?= out

.PHONY: demo test test-slow test-unprivileged test-vllm vllm-venv bench doctor clean system-deps image image-test image-lock

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# The sandbox runs untrusted code inside bubblewrap; without it a job refuses to start.
system-deps:
	@if ! command -v bwrap >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing bubblewrap and libseccomp2 (sandbox isolation)"; \
	  (apt-get install -y -qq bubblewrap libseccomp2 >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap libseccomp2 >/dev/null 2>&1)) || \
	  echo "could not install bubblewrap: jobs refuse to start until it is installed (see 'iccgen doctor')"; \
	fi
	@# Debian's chromium: the gallery's browser test drives it with playwright (never its own download).
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium (the gallery's browser test)"; \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) || \
	  echo "could not install chromium: the gallery's browser test will be skipped"; \
	fi

demo: $(STAMP) system-deps
	$(BIN)/iccgen run examples/demo.toml --out $(OUT)

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

test-slow: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -m slow

# The sandbox's tests as a non-root user (run as root: it creates the user).
test-unprivileged: $(STAMP) system-deps
	tests/unprivileged.sh

doctor: $(STAMP)
	$(BIN)/iccgen doctor

# vLLM's CPU build in its own venv (about 3 GB), for `iccgen serve --device cpu` and the
# real-server suite: a tiny Qwen3-VL built offline, served through `iccgen serve --device cpu`.
VLLM_VENV ?= .venv-vllm

vllm-venv:
	tests/realserver/setup_vllm.sh $(VLLM_VENV)

test-vllm: $(STAMP) system-deps vllm-venv
	ICCGEN_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python $(BIN)/python -m pytest -q -m realserver tests/realserver

# The CPU image (docker/), with podman; see README, "Deploying". Not part of `make test`.
IMAGE   ?= localhost/iccgen:cpu
BASE    ?= docker.io/rayproject/ray:2.60.0-py311-cpu
PODMAN_ENV := CONTAINERS_CONF=$(CURDIR)/docker/containers.conf IMAGE=$(IMAGE) BASE=$(BASE)

image:
	$(PODMAN_ENV) docker/image.sh

image-test: image
	$(PODMAN_ENV) docker/image-test.sh

image-lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  -q -o docker/requirements.cpu.txt --custom-compile-command "make image-lock"

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
