"""``trainer classify --engine ray``: the same CSV as the local path, from a Ray actor pool.

One Ray session (started here with 2 CPUs, as without ``--address``) serves the module: Ray
takes 10-20 s to start, so the Ray tests are few.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import quiet_events
from trainer.config import TrainConfig
from trainer.csvfile import read_predictions
from trainer.engine import train
from trainer.features import Cancelled
from trainer.predict import classify_folder
from trainer.ray_classify import ITERATION_THREAD

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_here() -> None:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred drawings in two folder levels, one unreadable file, one non-UTF-8 name."""
    from trainer.demo_data import make_demo_data

    root = make_demo_data(tmp_path_factory.mktemp("archive") / "cams", per_class=70, size=48, seed=11)
    (root / "car" / "notes.jpg").write_bytes(b"not an image")
    os.rename(root / "truck" / "truck_0001.jpg", root / "truck" / os.fsdecode(b"cami\xf3n.jpg"))
    return root


@pytest.fixture(scope="module")
def run_dir(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = TrainConfig(data=str(demo_root), weights="none", epochs=1, image_size=48,
                      out=str(tmp_path_factory.mktemp("runs")))
    return train(cfg, quiet_events(), lambda: False)


def _rows(path: Path) -> list:
    _, rows = read_predictions(path)
    return list(rows)


def test_the_ray_csv_equals_the_local_csv(ray_here: None, run_dir: Path, archive: Path, tmp_path: Path) -> None:
    from trainer.ray_classify import RaySettings, classify_on_ray

    local_events, ray_events = quiet_events(), quiet_events()
    same = {"backend": "torch", "precision": "fp32"}  # the same backend and precision on both paths
    local = classify_folder(run_dir, archive, tmp_path / "local.csv", local_events, lambda: False, recursive=True,
                            **same)
    far = classify_on_ray(run_dir, archive, tmp_path / "ray.csv", ray_events, lambda: False,
                          RaySettings(actors=2, scorer_options=same), recursive=True)
    a, b = _rows(tmp_path / "local.csv"), _rows(tmp_path / "ray.csv")
    assert len(a) == len(b) == 211
    assert [(p.path, p.label, p.error) for p in a] == [(p.path, p.label, p.error) for p in b]
    assert any(p.error for p in b) and any(p.path.endswith(os.fsdecode(b"cami\xf3n.jpg")) for p in b)
    for x, y in zip(a, b):
        assert len(x.probs) == len(y.probs)
        assert all(abs(u - v) <= 1e-5 for u, v in zip(x.probs, y.probs)), (x, y)
        assert x.confidence is None or abs(x.confidence - (y.confidence or 0.0)) <= 1e-5
    head_a = (tmp_path / "local.csv").read_text(encoding="utf-8").splitlines()[0]
    assert head_a == (tmp_path / "ray.csv").read_text(encoding="utf-8").splitlines()[0]
    assert {k: far[k] for k in ("rows", "errors", "counts", "threshold")} == \
        {k: local[k] for k in ("rows", "errors", "counts", "threshold")}
    kinds = [e["event"] for e in ray_events.seen]
    assert kinds[0] == "start" and kinds[-1] == "done" and "progress" in kinds
    assert [e for e in ray_events.seen if e["event"] == "progress"][-1]["done"] == 211
    assert sum(1 for k in kinds if k == "warning") == 1  # the unreadable file, once


def test_stopping_a_ray_job_leaves_no_csv(ray_here: None, run_dir: Path, archive: Path, tmp_path: Path) -> None:
    from trainer.ray_classify import RaySettings, classify_on_ray

    calls = iter(range(10_000))
    with pytest.raises(Cancelled):
        classify_on_ray(run_dir, archive, tmp_path / "stopped.csv", quiet_events(), lambda: next(calls) >= 50,
                        RaySettings(actors=3), recursive=True)  # more actors than CPUs: they share
    # Ray Data's iteration threads are done: one still running at ray.shutdown() ends the process
    # (CI once died that way, between this test and the session's shutdown)
    assert not [t for t in threading.enumerate() if t.name == ITERATION_THREAD]
    assert not (tmp_path / "stopped.csv").exists()
    assert list(tmp_path.iterdir()) == []  # no temp file either


def test_without_ray_the_cli_says_how_to_install_it(run_dir: Path, archive: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from trainer import cli
    from trainer.protocol import Exit

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code = cli.main(["classify", str(run_dir), str(archive), "--out", str(tmp_path / "p.csv"), "--engine", "ray"])
    assert code == Exit.MISSING_DEPENDENCY
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and '.[cluster]' in err
    assert not (tmp_path / "p.csv").exists()
