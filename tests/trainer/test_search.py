"""trainer search: every step within the budget, the pick by validation, resumable, marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import quiet_events, run_cli
from trainer import runs
from trainer.protocol import UsageError
from trainer.search import STATE, SearchState, run_search


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Backbone files (random weights) standing in for a user's pretrained ones: the search then
    freezes them and trains heads on cached features, as with real weights, only quickly."""
    import torch

    from trainer.models import build_backbone

    out = tmp_path_factory.mktemp("weights")
    files = {}
    for name in ("mobilenet_v2", "resnet50"):
        torch.manual_seed(0)
        torch.save(build_backbone(name, "none").state_dict(), out / f"{name}.pth")
        files[name] = str(out / f"{name}.pth")
    return files


@pytest.fixture(scope="module")
def searched(demo_root: Path, weight_files: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], Path]:
    out = tmp_path_factory.mktemp("search")
    ev = quiet_events()
    pick = run_search(str(demo_root), 3, str(out), weight_files, ev, lambda: False, image_size=48, workers=1)
    return pick, ev.seen, out


def test_the_search_tries_every_model_fine_tunes_and_picks_by_validation(
        searched: tuple[Path, list[dict], Path]) -> None:
    pick, seen, out = searched
    done = next(e for e in seen if e["event"] == "done" and "search_step" not in e)
    board = done["leaderboard"]
    methods = {r["method"].split()[0] for r in board if r["status"] == "done"}
    assert {"frozen", "fine-tuned"} <= methods
    assert {r["model"] for r in board} >= {"mobilenet_v2", "resnet50", "ensemble", "ensemble_regularized"}
    best = max(r["val_acc"] for r in board if r["status"] == "done")
    assert done["run_dir"] == str(pick) and board[0]["run_dir"] == str(pick) and board[0]["val_acc"] == best
    assert runs.load_run(pick).config["search"]["winner"] is True
    assert any(e["event"] == "candidate" for e in seen)
    assert any(e["event"] == "progress" and e.get("phase") == "search" and "eta_s" in e for e in seen)


def test_a_finished_search_resumes_without_training_again(searched: tuple[Path, list[dict], Path]) -> None:
    pick, _, out = searched
    folder = next(out.glob("search-*"))
    before = len(list(out.iterdir()))
    again = run_search("", 3, str(out), "none", quiet_events(), lambda: False, resume=str(folder))
    assert again == pick and len(list(out.iterdir())) == before
    state = SearchState.load(folder)
    assert state.pick == str(pick) and json.loads((folder / STATE).read_text())["entries"]


def test_a_budget_too_small_skips_steps_with_the_reason(demo_root: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="trained no model"):
        run_search(str(demo_root), 0.001, str(tmp_path), "none", quiet_events(), lambda: False, image_size=48)
    state = SearchState.load(next(tmp_path.glob("search-*")))
    assert all(e.status == "skipped" and "not enough time" in e.reason for e in state.entries)
    # random backbones are not frozen: with --weights none every model would train from scratch
    assert {e.method for e in state.entries} == {"trained from scratch, 48 px"}


def test_cli_search_prints_the_leaderboard_and_the_pick_last(demo_root: Path, weight_files: dict[str, str],
                                                            tmp_path: Path) -> None:
    weights = [arg for b, f in weight_files.items() for arg in ("--weights", f"{b}={f}")]
    result = run_cli("search", str(demo_root), "--budget", "0.5", *weights, "--image-size", "48",
                     "--workers", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "val" in result.stderr and "status" in result.stderr  # the leaderboard's header
    assert Path(result.stdout.strip().splitlines()[-1]).is_dir()
    bad = run_cli("search", str(demo_root), "--budget", "0")
    assert bad.returncode == 2 and "--budget: 0: must be a number > 0" in bad.stderr
