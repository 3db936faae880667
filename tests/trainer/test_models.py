"""The registry's four models: shapes, a training step, freezing, weight loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tests.conftest import REAL_WEIGHTS
from trainer import weights as W
from trainer.models import ModelError, create_model, get_spec, list_models


def test_registry_lists_the_four_reference_models() -> None:
    assert list_models() == ["ensemble", "ensemble_regularized", "mobilenet_v2", "resnet50"]
    with pytest.raises(ModelError, match="unknown model"):
        get_spec("vgg16")


@pytest.mark.parametrize("num_classes", [3, 5])
@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_a_step(name: str, num_classes: int) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes, "none", frozen=set())
    x, y = torch.randn(2, 3, 64, 64), torch.tensor([0, num_classes - 1])
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    before = {k: v.clone() for k, v in model.head.state_dict().items()}
    logits = model(x)
    assert logits.shape == (2, num_classes)
    nn.functional.cross_entropy(logits, y).backward()
    opt.step()
    changed = [k for k, v in model.head.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "the head did not learn"


def test_head_shapes_follow_the_reference() -> None:
    m = create_model("ensemble", 6, "none")
    assert m.head.fuse.in_features == 12 and m.head.fuse.out_features == 6
    r = create_model("ensemble_regularized", 4, "none")
    assert r.head.branches["resnet50"].out_features == 1024
    assert r.head.branches["mobilenet_v2"][1].out_features == 1024
    layers = [type(x).__name__ for x in r.head.fuse]
    assert layers.count("LayerNorm") == 3 and layers.count("Dropout") == 3
    assert r.head.fuse[-1].out_features == 4


def test_none_weights_train_everything_by_default_pretrained_freezes() -> None:
    assert create_model("mobilenet_v2", 3, "none").frozen == set()
    assert create_model("mobilenet_v2", 3, "none", frozen={"mobilenet_v2"}).frozen == {"mobilenet_v2"}


def test_frozen_backbone_stays_in_eval_mode_when_model_trains() -> None:
    m = create_model("ensemble", 3, "none", frozen={"resnet50", "mobilenet_v2"})
    m.train()
    assert m.head.training
    assert not any(mod.training for bb in m.backbones.values() for mod in bb.modules())
    assert not any(p.requires_grad for p in m.backbones.parameters())


def test_imagenet_without_cache_or_network_fails_fast_naming_the_file(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(W, "reachable", lambda host, timeout=3.0: False)
    with pytest.raises(W.WeightsError) as info:
        create_model("resnet50", 3, "imagenet")
    msg = str(info.value)
    assert "resnet50-11ad3fa6.pth" in msg and "--weights none" in msg and "--weights PATH" in msg


def test_weights_file_that_matches_nothing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"foo.weight": torch.zeros(3)}, path)
    with pytest.raises(W.WeightsError, match="no tensor"):
        create_model("mobilenet_v2", 3, str(path))


def test_garbage_weights_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(W.WeightsError, match=r"is not a weights file \(a PyTorch state_dict"):
        create_model("mobilenet_v2", 3, str(path))


def test_a_photo_given_as_weights_is_named_a_photo(tmp_path: Path) -> None:
    """Was: "… is not a loadable state_dict file: Weights only load failed" (PyTorch's words)."""
    from PIL import Image

    photo = tmp_path / "car542.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    with pytest.raises(W.WeightsError, match="car542.jpg is a photo, not a weights file"):
        create_model("mobilenet_v2", 3, str(photo))


def test_missing_weights_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(W.WeightsError, match="not found"):
        create_model("mobilenet_v2", 3, str(tmp_path / "nope.pth"))


@pytest.mark.skipif(not REAL_WEIGHTS.is_file(), reason="../shared/weights not present")
def test_shared_mobilenet_file_loads_into_the_backbone() -> None:
    model = create_model("mobilenet_v2", 3, str(REAL_WEIGHTS))
    sd = torch.load(REAL_WEIGHTS, weights_only=True)
    own = model.backbones["mobilenet_v2"].state_dict()
    assert torch.equal(own["features.0.0.weight"], sd["features.0.0.weight"])
    assert model.frozen == {"mobilenet_v2"}


def test_per_backbone_weight_specs(tmp_path: Path) -> None:
    path = tmp_path / "mb.pth"
    src = create_model("mobilenet_v2", 3, "none").backbones["mobilenet_v2"]
    torch.save(src.state_dict(), path)
    m = create_model("ensemble", 3, {"resnet50": "none", "mobilenet_v2": str(path)})
    assert m.frozen == {"mobilenet_v2"}
    assert torch.equal(m.backbones["mobilenet_v2"].features[0][0].weight, src.features[0][0].weight)
