"""High-DPI screens: at a device pixel ratio of 2 the window, thumbnails and previews are drawn
with twice the pixels (crisp), not stretched from a 1x image.

Qt reads ``QT_SCALE_FACTOR`` when the application starts, so the 2x app runs in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

SCRIPT = """
import json, sys, time, pathlib
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication(["vehicleapp"])
from vehicleapp.main_window import MainWindow
from vehicleapp.settings import AppSettings
out, data = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
photo = str(data / "car" / "stripes.png")

def settle(until, seconds=20.0):
    end = time.monotonic() + seconds
    while not until() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)

settings = AppSettings(QSettings(str(out / "settings.ini"), QSettings.Format.IniFormat))
window = MainWindow(settings=settings, runs_dir=str(out / "runs"))
window.resize(1024, 700)
window.show()
window.open_dataset(str(data))
loader = window.thumbs
small = str(data / "car" / "car0.png")
settle(lambda: photo in loader.cache and small in loader.cache)
preview = window.dataset_page.preview
preview.show_image(data / "car" / "stripes.png")
settle(lambda: preview.image.pixmap() is not None and not preview.image.pixmap().isNull())
settle(lambda: False, 1.0)  # let every thumbnail in view arrive
shot = window.grab()
shot.save(str(out / "window-2x.png"))
thumb, shown = loader.cache[photo], preview.image.pixmap()
print(json.dumps({
    "app_ratio": app.devicePixelRatio(),
    "window": [window.width(), window.height()],
    "shot": [shot.width(), shot.height(), shot.devicePixelRatio()],
    "thumb": [thumb.width(), thumb.height(), thumb.devicePixelRatio(), loader.size],
    "small": [loader.cache[small].width(), loader.cache[small].devicePixelRatio()],
    "preview": [shown.width(), shown.height(), shown.devicePixelRatio(), preview.image.width(), preview.image.height()],
}))
window.runner.shutdown()
loader.clear()
loader.wait(10_000)
"""


def _dataset(root: Path) -> Path:
    for cls in ("car", "truck"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (64, 48), (40 * i, 90, 160)).save(root / cls / f"{cls}{i}.png")
    img = Image.new("RGB", (900, 600), "white")
    draw = ImageDraw.Draw(img)
    for x in range(0, 900, 4):  # one-pixel stripes: blur would show at once
        draw.line([(x, 0), (x, 599)], fill="black")
    img.save(root / "car" / "stripes.png")
    return root


@pytest.mark.parametrize("scale", ["2"])
def test_a_2x_screen_gets_2x_pixels(tmp_path: Path, scale: str) -> None:
    data = _dataset(tmp_path / "data")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale,
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), str(data)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    ratio = float(scale)
    assert got["app_ratio"] == ratio
    w, h = got["window"]
    assert got["shot"] == [w * ratio, h * ratio, ratio]
    tw, th, tratio, side = got["thumb"]
    assert tratio == ratio and max(tw, th) == side * ratio  # decoded at 224 px for a 112 px cell
    assert got["small"] == [64, 1.0]  # a 64 px photo stays 64 logical px, as at 1x (not 32)
    pw, ph, pratio, lw, lh = got["preview"]
    assert pratio == ratio
    assert max(pw / lw, ph / lh) == pytest.approx(ratio, abs=0.02)  # fills its label in device pixels
    assert (tmp_path / "window-2x.png").is_file()
