"""The best epoch: the higher val accuracy, at a tie the lower val loss (best.pt and the test
accuracy a run reports). A walkthrough's run kept epoch 1 of three epochs tied at 98.2%: val
loss 0.307 against epoch 4's 0.136, test accuracy 93.3% against 96.7%."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import quiet_events
from trainer import runs
from trainer.callbacks import Checkpointer

ROWS = [{"epoch": 1, "val_acc": 0.982, "val_loss": 0.307, "test_acc": 0.933},
        {"epoch": 2, "val_acc": 0.964, "val_loss": 0.2, "test_acc": 0.95},
        {"epoch": 3, "val_acc": 0.982, "val_loss": 0.25, "test_acc": 0.95},
        {"epoch": 4, "val_acc": 0.982, "val_loss": 0.136, "test_acc": 0.967},
        {"epoch": 5, "val_acc": 0.982, "val_loss": 0.2, "test_acc": 0.9}]


def test_best_pt_goes_to_the_tied_epoch_with_the_lower_val_loss(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    saved: list[tuple[int, str]] = []
    cp = Checkpointer(tmp_path, quiet_events(), lambda history: {})
    epoch = [0]
    monkeypatch.setattr(cp, "save", lambda loop, name, **kw: saved.append((epoch[0], name)))
    for row in ROWS:
        epoch[0] = row["epoch"]
        cp.on_epoch_end(None, row)  # type: ignore[arg-type]
    assert [e for e, name in saved if name == runs.BEST] == [1, 3, 4]
    assert cp.best_acc == 0.982
    resumed = Checkpointer(tmp_path, quiet_events(), lambda history: {})
    resumed.load_state_dict(cp.state_dict())  # a resumed run compares with epoch 4's loss too
    assert resumed.best == cp.best == (0.982, -0.136)


def test_the_reported_test_accuracy_is_the_same_epoch_s() -> None:
    info = runs.RunInfo(Path("/x"), {}, list(ROWS))
    assert info.best_val_acc == 0.982 and info.test_acc == 0.967


@pytest.mark.parametrize(("epochs", "said"), [(5, True), (3, False)])
def test_an_early_stop_at_the_last_epoch_says_nothing(epochs: int, said: bool) -> None:
    """"early stop: val loss did not improve for 3 epochs" came at epoch 15 of 15: it stopped nothing."""
    from types import SimpleNamespace

    from trainer.callbacks import EarlyStopping
    from trainer.events import Events

    seen: list[dict] = []
    stopper = EarlyStopping(2, Events([seen.append]))
    loop = SimpleNamespace(settings=SimpleNamespace(epochs=epochs), stop_training=False)
    for epoch, loss in enumerate((0.5, 0.6, 0.7), start=1):
        stopper.on_epoch_end(loop, {"epoch": epoch, "val_loss": loss})  # type: ignore[arg-type]
    assert loop.stop_training
    assert any("early stop" in str(e.get("message")) for e in seen) == said
