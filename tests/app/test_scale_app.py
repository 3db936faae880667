"""Scaling out from the app: Train's "Processes" (--nproc) and Classify's "Run on" (--engine ray)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.test_search_app import _fake_runner
from trainer.cli import build_parser
from vehicleapp.commands import classify_args, train_args
from vehicleapp.main_window import MainWindow


def test_processes_on_the_train_page_start_a_ddp_job(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _fake_runner(window, monkeypatch)
    tp = window.train_page
    assert tp.nproc.value() == 1 and "--nproc" not in train_args(tp.config())  # one process: nothing changes
    tp.set_dataset("/data", {"car": 5, "truck": 5})
    tp.weights.set_mode("none")
    tp.nproc.setValue(2)
    assert tp.start() is made[0]
    args = made[0].args
    assert args[args.index("--nproc") + 1] == "2"
    assert build_parser().parse_args(args).nproc == 2
    assert tp.options()["nproc"] == 2  # remembered with the other settings
    assert "DDP" in tp.nproc.toolTip()


def test_run_on_a_ray_cluster_passes_the_engine_and_address(window: MainWindow, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    made = _fake_runner(window, monkeypatch)
    page = window.classify_page
    page.run_combo.addItem("a run", str(tmp_path / "run"))
    page.folder.setText(str(tmp_path))
    assert not page.ray_address.isVisibleTo(page)
    page.start()
    assert "--engine" not in made[0].args  # this computer
    page.run_on.setCurrentIndex(page.run_on.findData("ray"))
    assert page.ray_address.isVisibleTo(page)
    assert page.minimumSizeHint().width() <= 800  # still fits the minimum window
    page.ray_address.setText("ray://head:10001")
    page.job = None
    page.start()
    args = made[1].args
    assert args[args.index("--engine") + 1] == "ray" and args[args.index("--address") + 1] == "ray://head:10001"
    ns = build_parser().parse_args(args)
    assert (ns.engine, ns.address) == ("ray", "ray://head:10001")


def test_an_empty_address_starts_ray_here() -> None:
    args = classify_args(Path("/r"), Path("/f"), Path("/o.csv"), False, ray_address="")
    ns = build_parser().parse_args(args)
    assert (ns.engine, ns.address) == ("ray", None)
