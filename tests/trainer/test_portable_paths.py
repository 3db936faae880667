"""Paths and names that work on Windows, macOS and Linux: the pure rules, fed Windows inputs.

Run on Linux: Windows paths are ``PureWindowsPath`` (Windows' own parsing and case rules), and a
case-insensitive file system is what :func:`trainer.names.name_key` stands for.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from trainer.csvfile import Prediction
from trainer.datasets import DatasetError, check_class_names
from trainer.files import FreeNames, copy_by_label
from trainer.layout import class_folder
from trainer.names import name_key, name_problem
from trainer.pathtext import from_relative_text, join_relative, relative_text

W = PureWindowsPath


@pytest.mark.parametrize(("path", "root", "rel"), [
    (W(r"C:\Data\car\x.jpg"), W(r"C:\Data"), "car/x.jpg"),
    (W(r"c:\data\Car\X.JPG"), W(r"C:\Data"), "Car/X.JPG"),  # drive and folders compared as Windows does
    (W(r"\\server\share\photos\truck\t 1.png"), W(r"\\server\share\photos"), "truck/t 1.png"),  # UNC
    (W("D:/mixed\\sep/a/b.jpg"), W(r"D:\mixed\sep"), "a/b.jpg"),
])
def test_csv_paths_are_posix_relative_for_windows_paths(path: W, root: W, rel: str) -> None:
    assert relative_text(path, root) == rel
    assert from_relative_text(rel, root) == path


@pytest.mark.parametrize("rel", ["", "/etc/passwd", "../up.jpg", "a/../../b.jpg", "a//b.jpg", "C:/x.jpg",
                                 "C:x.jpg", "a\\b.jpg", "a/x:y.jpg", "//server/share/x.jpg"])
def test_a_relative_path_cannot_leave_a_windows_root(rel: str) -> None:
    with pytest.raises(ValueError, match="not a relative path"):
        join_relative(W(r"C:\Data"), rel)


def test_backslash_and_colon_are_plain_characters_under_a_posix_root() -> None:
    # Linux allows them in names; a CSV written there comes back there.
    assert join_relative(PurePosixPath("/d"), "a\\b.jpg").parts[-1] == "a\\b.jpg"
    assert join_relative(PurePosixPath("/d"), "12:30.jpg") == PurePosixPath("/d/12:30.jpg")
    with pytest.raises(ValueError, match="not a relative path"):
        join_relative(PurePosixPath("/d"), "../x.jpg")


@pytest.mark.parametrize("name", ["CON", "con", "aux.jpg", "Nul.tar.gz", "COM1.png", "lpt9", "com\u00b9.jpg",
                                  "CON .jpg", "a:b", "what?", "pipe|d", "tab\t", "ends.", "ends ", "", ".."])
def test_names_windows_refuses(name: str) -> None:
    assert name_problem(name)


@pytest.mark.parametrize("name", ["car", "Console", "auxiliary.jpg", "com10.png", "con_1.jpg", "café", "a.b.c"])
def test_names_every_os_allows(name: str) -> None:
    assert name_problem(name) is None


def test_names_differing_in_case_or_normalisation_are_one() -> None:
    assert name_key("car.JPG") == name_key("car.jpg")
    assert name_key("Car") == name_key("car")
    assert name_key("Cafe\u0301") == name_key("café")  # macOS stores decomposed forms
    assert name_key("car") != name_key("cars")


def test_a_case_variant_of_a_taken_name_is_taken(tmp_path: Path) -> None:
    (tmp_path / "car.jpg").write_bytes(b"x")
    free = FreeNames()
    assert free.claim(tmp_path / "car.JPG") == tmp_path / "car-1.JPG"  # not beside car.jpg, even on Linux
    assert free.claim(tmp_path / "CAR.jpg") == tmp_path / "CAR-2.jpg"  # names claimed before count
    assert free.claim(tmp_path / "truck.jpg") == tmp_path / "truck.jpg"
    assert (tmp_path / "car.jpg").read_bytes() == b"x"


def test_a_class_goes_into_its_case_variant_folder(tmp_path: Path) -> None:
    (tmp_path / "Car").mkdir()
    assert class_folder(tmp_path, "car") == tmp_path / "Car"
    assert class_folder(tmp_path, "truck") == tmp_path / "truck"
    (tmp_path / "car").mkdir()  # both exist (possible on Linux): the exact one wins
    assert class_folder(tmp_path, "car") == tmp_path / "car"


def test_classes_differing_only_in_case_are_refused_for_training() -> None:
    with pytest.raises(DatasetError, match="'Car' and 'car' differ only in case"):
        check_class_names(["Car", "truck", "car"])
    check_class_names(["car", "truck"])


def test_copy_by_label_never_overwrites_a_case_variant(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "car.JPG").write_bytes(b"1")
    (src / "sub" / "car.jpg").write_bytes(b"2")
    (tmp_path / "out" / "Car").mkdir(parents=True)
    rows = [Prediction("car.JPG", "car", 0.9, [0.9, 0.1]), Prediction("sub/car.jpg", "car", 0.8, [0.8, 0.2])]
    assert copy_by_label(rows, src, tmp_path / "out") == 2
    assert sorted(p.name for p in (tmp_path / "out" / "Car").iterdir()) == ["car-1.jpg", "car.JPG"]
    assert not (tmp_path / "out" / "car").exists()


def test_heatmap_names_differing_only_in_case_do_not_collide() -> None:
    from trainer.explain import _free_name

    assert _free_name("car", ["Car.png"]) == "car-1.png"  # one file on Windows and macOS
    assert _free_name("truck", ["Car.png"]) == "truck.png"
