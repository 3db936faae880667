"""The one image loader: every mode to RGB, EXIF applied, every bad file a one-line reason."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from trainer import images
from trainer.images import ImageLoadError, load_image


def _save(img: Image.Image, path: Path, **kw: Any) -> Path:
    img.save(path, **kw)
    return path


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "PNG"), ("RGBA", "PNG"), ("CMYK", "JPEG"), ("I;16", "PNG"), ("1", "PNG"), ("P", "GIF"),
     ("RGB", "WEBP"), ("RGB", "BMP"), ("RGB", "TIFF")],
)
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str, fmt: str) -> None:
    img = Image.new(mode, (30, 20))
    path = _save(img, tmp_path / f"x.{fmt.lower()}", format=fmt)
    out = load_image(path)
    assert out.mode == "RGB"
    assert out.size == (30, 20)


def test_palette_transparency_is_flattened_on_white(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 0] * 256)
    path = _save(img, tmp_path / "t.png", transparency=0)
    assert load_image(path).getpixel((0, 0)) == (255, 255, 255)


def test_rgba_transparent_pixel_is_white(tmp_path: Path) -> None:
    path = _save(Image.new("RGBA", (3, 3), (10, 20, 30, 0)), tmp_path / "a.png")
    assert load_image(path).getpixel((1, 1)) == (255, 255, 255)


def test_16bit_range_is_scaled_not_clipped(tmp_path: Path) -> None:
    img = Image.new("I;16", (2, 1))
    img.putpixel((0, 0), 1000)
    img.putpixel((1, 0), 60000)
    out = load_image(_save(img, tmp_path / "d.png"))
    assert out.getpixel((0, 0))[0] == 0
    assert out.getpixel((1, 0))[0] == 255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    path = _save(img, tmp_path / "o.jpg", exif=exif.tobytes())
    assert load_image(path).size == (20, 40)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good)
    data = good.read_bytes()
    files = {
        "empty": tmp_path / "empty.jpg",
        "truncated": tmp_path / "trunc.jpg",
        "text": tmp_path / "notes.jpg",
        "other_format": tmp_path / "icon.jpg",
        "directory": tmp_path / "dir.jpg",
        "vanished": tmp_path / "gone.jpg",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["text"].write_text("this is not an image\n")
    Image.new("RGB", (16, 16)).save(files["other_format"], format="ICO")  # not an allowed format
    files["directory"].mkdir()
    return files


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "other_format", "directory", "vanished"])
def test_bad_files_raise_one_line_reason(tmp_path: Path, kind: str) -> None:
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(info.value)
    assert "\n" not in str(info.value)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # 400 Mpx, a few KB on disk
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image(path)


def test_permission_denied_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(Image.new("RGB", (8, 8)), tmp_path / "p.png")
    if os.geteuid() != 0:  # a real chmod works for ordinary users
        path.chmod(0)
    else:  # root reads anything: simulate the OS refusing
        def refuse(*a: object, **k: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(ImageLoadError, match="permission denied"):
        load_image(path)


def _heic(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A real HEIC file written by pillow-heif (an x265 encoder ships in its wheels)."""
    pytest.importorskip("pillow_heif")
    Image.new("RGB", size, (200, 30, 30)).save(path, format="HEIF")
    return path


def test_heic_photo_loads_upright_rgb(tmp_path: Path) -> None:
    out = load_image(_heic(tmp_path / "IMG_0001.HEIC"))
    assert out.mode == "RGB" and out.size == (64, 48)
    r, g, b = out.getpixel((32, 24))
    assert r > 150 and g < 80 and b < 80  # lossy, but still red


@pytest.mark.skipif(not images.AVIF_SUPPORTED, reason="this Pillow has no AVIF plugin")
def test_avif_photo_loads(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (40, 30), (20, 200, 40)), tmp_path / "p.avif", format="AVIF")
    assert load_image(path).size == (40, 30)


def test_phone_formats_are_image_files_in_any_case() -> None:
    for name in ("a.heic", "b.HEIF", "c.avif", "d.HIF"):
        assert images.is_image_file(Path(name)), name


def test_truncated_heic_is_a_one_line_reason(tmp_path: Path) -> None:
    data = _heic(tmp_path / "whole.heic").read_bytes()
    cut = tmp_path / "cut.heic"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(ImageLoadError) as info:
        load_image(cut)
    assert str(info.value) and "\n" not in str(info.value)


def test_heic_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _heic(tmp_path / "big.heic")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 48 // 3)  # over twice the limit: an error
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image(path)


def test_heic_without_pillow_heif_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _heic(tmp_path / "x.heic")
    monkeypatch.setattr(images, "HEIF_SUPPORTED", False)
    with pytest.raises(ImageLoadError, match="pip install pillow-heif"):
        load_image(path)


def test_a_heic_whose_header_claims_a_huge_size_is_refused_cleanly(tmp_path: Path) -> None:
    """Found by benchmarks/loader_fuzz.py: libheif raised RuntimeError, not ImageLoadError."""
    path = _heic(tmp_path / "huge.heic")
    data = bytearray(path.read_bytes())
    ispe = data.find(b"ispe")  # the image spatial extents box: version/flags, width, height
    data[ispe + 12 : ispe + 16] = (0x20000040).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match="unreadable image: .*Security limit exceeded"):
        load_image(path)


def test_a_tiff_with_a_fractional_strip_offset_is_refused_cleanly() -> None:
    """Found by a 10-minute run of benchmarks/loader_fuzz.py (one bit flipped in a TIFF): Pillow
    raised TypeError ('IFDRational' object cannot be interpreted as an integer)."""
    path = Path(__file__).parent / "fuzz_findings" / "tiff-ifdrational-offset.tif"
    with pytest.raises(ImageLoadError, match="^unreadable image: "):
        load_image(path)


def test_a_108_megapixel_phone_photo_is_not_refused_as_a_bomb(tmp_path: Path) -> None:
    """Pillow's default limit (89 MP) refused the full-resolution mode of common phones."""
    from trainer.decode import decode

    path = tmp_path / "phone.jpg"
    Image.new("L", (12000, 9000), 90).save(path, quality=50)  # 108 MP; decoded at 1/8 size
    out = decode(path, 232, 224)
    assert not isinstance(out, str), out
    assert out.shape == (224, 224, 3)
