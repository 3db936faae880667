"""Run names (trainer.run_names): one picker for the ``plot`` command's PNG and the app's legends
and run boxes, so a run is called the same everywhere."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from trainer.plots import curves_figure, draw_curves
from trainer.run_names import combo_labels, legend_labels
from trainer.runs import RunInfo


def _run(name: str, epochs: int = 3, **config: object) -> RunInfo:
    base = {"model": "mobilenet_v2", "lr": 0.001, "batch_size": 8, "data": "/data/real", "weights": "imagenet"}
    metrics = [{"epoch": e, "train_acc": 0.5, "val_acc": 0.5, "train_loss": 1.0, "val_loss": 1.0}
               for e in range(1, epochs + 1)]
    return RunInfo(Path("/runs") / name, {**base, **config}, metrics)


def test_a_legend_says_once_what_runs_share_and_per_run_what_differs() -> None:
    title, labels = legend_labels([_run("a"), _run("b", data="/x/demo-data"), _run("c", lr=0.01)])
    assert title == "mobilenet_v2 · bs 8"
    assert labels == ["lr 0.001 · real", "lr 0.001 · demo-data", "lr 0.01 · real"]
    _, files = legend_labels([_run("a", weights={"mobilenet_v2": "/w/mb.pth"}), _run("b", image_size=96)])
    assert files == ["mb.pth weights", "imagenet weights"]  # the first field that tells them apart


def test_runs_alike_in_every_field_are_told_apart_by_their_folder() -> None:
    _, labels = legend_labels([_run("20250101-1"), _run("20250101-2")])
    assert len(set(labels)) == 2 and all(label.endswith(("20250101-1", "20250101-2")) for label in labels)
    names = combo_labels([_run("a", epochs=3), _run("b", epochs=15)])
    assert names == ["mobilenet_v2 lr=0.001 bs=8 · 3 ep", "mobilenet_v2 lr=0.001 bs=8 · 15 ep"]


def test_the_plot_commands_figure_names_runs_as_the_app_does() -> None:
    """The PNG of ``trainer plot`` used its own names ("224px", the folder name) until both sides
    read trainer.run_names; its legend now sits under both plots, never on the curves."""
    runs = [_run("a"), _run("b", lr=0.01)]
    fig = curves_figure(runs)
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    assert legend.get_title().get_text() == legend_labels(runs)[0] == "mobilenet_v2 · bs 8 · real"
    assert [t.get_text() for t in legend.get_texts()] == ["lr 0.001", "lr 0.01", "val", "train"]


def test_a_single_epoch_run_is_a_point_on_axes_from_zero() -> None:
    run = _run("one", epochs=1)
    run.metrics = [{"epoch": 1, "train_acc": 0.25, "val_acc": 0.34, "train_loss": 1.0986, "val_loss": 1.0987}]
    fig = Figure()
    draw_curves(fig, [run])
    acc, loss = fig.axes
    assert all(line.get_marker() == "o" for line in acc.lines + loss.lines)
    assert loss.get_ylim()[0] == 0 and loss.get_ylim()[1] > 1.0987


def test_runs_that_differ_in_how_they_trained_say_so() -> None:
    """An augmented run and a plain one were told apart only by their epoch counts ("224 px ·
    3 ep" against "15 ep"), a fine-tuned, a balanced or an early-stopped run not at all."""
    runs = [_run("a"), _run("b", augment=True), _run("c", fine_tune=3), _run("d", balance="loss"),
            _run("e", early_stop=2)]
    _, labels = legend_labels(runs)
    assert labels == ["not augmented · head only · no balancing · no early stop", "augmented", "fine-tuned 3 ep",
                      "balance loss", "early stop 2"]
    assert combo_labels(runs[:2]) == ["mobilenet_v2 lr=0.001 bs=8 · not augmented",
                                      "mobilenet_v2 lr=0.001 bs=8 · augmented"]


def test_the_curves_mark_where_fine_tuning_started() -> None:
    """A fine-tuned run's loss jumped at epoch 6 with nothing saying why: a dotted line in the
    run's colour now marks fine-tuning's first epoch, named once in the legend."""
    tuned = _run("t", epochs=8, fine_tune=3)
    tuned.config["fine_tune_from"] = 5
    fig = curves_figure([_run("plain"), tuned])
    for ax in fig.axes:
        marks = [line for line in ax.lines if line.get_linestyle() == ":"]
        assert [line.get_xdata()[0] for line in marks] == [5.5] and marks[0].get_color() == "C1"
    assert [t.get_text() for t in fig.legends[0].get_texts()][-1] == "fine-tuning starts"
    assert "fine-tuning starts" not in [t.get_text() for t in curves_figure([_run("plain")]).legends[0].get_texts()]


def test_the_epoch_axis_shows_whole_epochs() -> None:
    """A 3-epoch run's axis read 1.0, 1.5, 2.0, 2.5, 3.0 in `trainer plot`'s PNG."""
    fig = curves_figure([_run("short", epochs=3)])
    fig.canvas.draw()
    for ax in fig.axes[:2]:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_how_runs_trained_is_named_even_where_the_settings_tell_them_apart() -> None:
    """A walkthrough compared an augmented lr 0.01 run with a plain lr 0.001 one: the legend said
    only "lr 0.01" / "lr 0.001"."""
    _, labels = legend_labels([_run("a", lr=0.01, augment=True), _run("b", lr=0.001)])
    assert labels == ["lr 0.01 · augmented", "lr 0.001"]
