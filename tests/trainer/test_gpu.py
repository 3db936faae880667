"""What only a GPU machine can check (skipped elsewhere): CUDA runners agree with the CPU, pinned
copies, bf16 where the GPU has it, auto choosing among CUDA backends, classify on CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import quiet_events
from trainer.backends import Choice, Selector, candidates, native_bf16, runners
from trainer.batches import to_device
from trainer.models import build_backbone
from trainer.predict import classify_folder

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
CUDA = torch.device("cuda")


def test_pinned_copies_arrive_intact() -> None:
    x = torch.randn(8, 3, 32, 32)
    assert torch.equal(to_device(x, CUDA).cpu(), x)


def test_cuda_runners_agree_with_cpu_fp32() -> None:
    module = build_backbone("mobilenet_v2", "none").eval()
    x = torch.randn(16, 3, 96, 96)
    with torch.no_grad():
        ref = module(x)
    sel = Selector(module, 96, CUDA, "auto", "auto")
    for choice in candidates("auto", "auto", CUDA):
        out = sel.build(choice)(x).float().cpu()
        cos = torch.nn.functional.cosine_similarity(ref, out, dim=1).min()
        assert cos >= (0.99 if choice.precision == "bf16" else 0.9999), choice
    assert (Choice("torch", "bf16", "cuda") in candidates("auto", "auto", CUDA)) == native_bf16(CUDA)


def test_auto_picks_a_cuda_backend() -> None:
    module = build_backbone("mobilenet_v2", "none").eval()
    found = runners({"m": module}, 96, CUDA, "auto", "auto", lambda: torch.randn(32, 3, 96, 96), 10_000)
    assert found["m"].choice.device == "cuda"


def test_classify_on_cuda_matches_the_cpu(one_run: Path, demo_root: Path, tmp_path: Path) -> None:
    cpu = classify_folder(one_run, demo_root / "car", tmp_path / "cpu.csv", quiet_events(), lambda: False,
                          device=torch.device("cpu"), backend="torch", precision="fp32")
    gpu = classify_folder(one_run, demo_root / "car", tmp_path / "gpu.csv", quiet_events(), lambda: False,
                          device=CUDA, backend="torch", precision="fp32")
    assert cpu["counts"] == gpu["counts"]
