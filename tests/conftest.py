"""Shared fixtures: isolated caches and data folders, tiny demo datasets, CLI runners."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
# no spare job process behind every test window (tests/app/test_spare_job.py turns it on)
os.environ["VEHICLEAPP_SPARE_JOB"] = "0"

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (CI has it, a user's clone does not); VEHICLES_SHARED_DIR points
# elsewhere (a GPU machine that gets a copy)
SHARED = Path(os.environ.get("VEHICLES_SHARED_DIR") or ROOT.parent / "shared")
REAL_DATA = SHARED / "datasets" / "vehicles-real-dev"
REAL_WEIGHTS = SHARED / "weights" / "mobilenet_v2-keras-imagenet-features.pth"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--start-method", choices=("fork", "spawn", "forkserver"),
                     help="multiprocessing start method for the whole run (spawn: as on Windows and macOS)")


def pytest_configure(config: pytest.Config) -> None:
    method = config.getoption("--start-method")
    if method:
        import multiprocessing

        multiprocessing.set_start_method(method, force=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _isolated_dirs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Any:
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TRAINER_CACHE_DIR", str(base / "feature-cache"))
    monkeypatch.setenv("VEHICLEAPP_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("TORCH_HOME", str(base / "torch"))  # never touch the user's torch cache
    yield
    # feature caches and exported models add up to GBs over the suite: keep them only to debug a failure
    if not request.node.stash.get(_FAILED, False):
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def _restore_signals() -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in handlers.items():
        signal.signal(s, h)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 images per class, 64 px: enough to train a step, small enough to be fast."""
    from trainer.demo_data import make_demo_data

    return make_demo_data(tmp_path_factory.mktemp("demo") / "data", per_class=12, size=64, seed=3)


@pytest.fixture
def demo_copy(demo_root: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the tiny demo dataset."""
    import shutil

    return Path(shutil.copytree(demo_root, tmp_path / "data"))


#: ``python -c NO_SIGNALS ARGS`` runs the trainer CLI with its signal path disabled (no handler
#: installed, SIGINT/SIGTERM ignored): what is left to stop it is the portable stdin channel.
NO_SIGNALS = (
    "import signal, sys\n"
    "from trainer import cli, stopping\n"
    "stopping.StopFlag.install = lambda self: self\n"
    "for s in (signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(s, signal.SIG_IGN)\n"
    "raise SystemExit(cli.main(sys.argv[1:]))\n"
)


def run_cli(*args: str, timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess:
    """Run ``python -m trainer ARGS`` in a child process (real exit codes and signals)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "trainer", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=kw.pop("cwd", None), **kw)


def quiet_events():  # noqa: ANN201 - Events with a list sink
    from trainer.events import Events

    seen: list[dict] = []
    ev = Events([seen.append], min_interval=0.0)
    ev.seen = seen  # type: ignore[attr-defined]
    return ev


def mount_tiny_disk(folder: Path, size: str = "5m") -> Path:
    """Mount a ``size`` tmpfs on ``folder`` (a real full disk); skip where that is impossible
    (not Linux, not root, no mount). The caller unmounts it with :func:`unmount`."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs mount: Linux and root only")
    folder.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    return folder


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Path:
    """A 5 MB tmpfs, unmounted afterwards whatever happens."""
    folder = mount_tiny_disk(tmp_path / "tiny-disk")
    yield folder
    unmount(folder)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the disk of ``folder`` until at most ``leave`` bytes are free; returns the filler."""
    filler = folder / "filler.bin"
    with open(filler, "wb") as f:
        free = shutil.disk_usage(folder).free - leave
        try:
            f.write(b"\0" * max(free, 0))
            f.flush()
        except OSError:
            pass
    return filler
