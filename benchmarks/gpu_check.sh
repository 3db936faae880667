#!/usr/bin/env bash
# What only a machine with an NVIDIA GPU can check (the speed issue's GPU paths), in one go:
# the CUDA tests, a one-rank DDP run through torchrun (NCCL), and the speed suite on the GPU.
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]   (PYTHON=... to pick the interpreter;
# VEHICLES_SHARED_DIR=... where ../shared is not beside the checkout)
set -u
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
mkdir -p "$out"
echo "== machine (logs in $out)"
nvidia-smi -L
"$py" -c "import torch, torchvision, onnxruntime as o; print('torch', torch.__version__, 'torchvision',
torchvision.__version__, 'onnxruntime', o.__version__, o.get_available_providers(), 'GPU',
torch.cuda.get_device_name(0), 'bf16', torch.cuda.is_bf16_supported())"

echo "== tests: CUDA, backends, classify, training, DDP, export"
timeout 300 "$py" -m pytest -q -p no:cacheprovider -rs tests/trainer/test_gpu.py tests/trainer/test_backends.py \
  tests/trainer/test_predict.py tests/trainer/test_engine.py tests/trainer/test_evaluate.py \
  tests/trainer/test_finetune.py tests/trainer/test_distributed.py tests/trainer/test_onnx.py 2>&1 \
  | tee "$out/pytest.log" | tail -25

echo "== one-rank DDP through torchrun on the GPU (NCCL)"
work=$(mktemp -d)
"$py" -m trainer demo-data "$work/data" >/dev/null
timeout 120 "$py" - "$work" <<'PY' 2>&1 | tail -5
import sys
from pathlib import Path

from trainer.launch import Launcher, launch

work = sys.argv[1]
code, run = launch(["train", f"{work}/data", "--weights", "none", "--augment", "--epochs", "2", "--image-size", "64",
                    "--out", f"{work}/runs", "--nproc", "1"], Launcher(1), True, lambda: False)
print("exit", code, "run", run, sorted(p.name for p in Path(run).iterdir()) if run else "")
PY

echo "== speed suite, models on the GPU"
timeout 400 "$py" benchmarks/speed.py --device cuda --only backends classify train 2>&1 | tee "$out/speed.log" | tail -20
