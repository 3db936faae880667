"""The one image loader used by training, classification and the app's thumbnails.

Every decode in the product goes through :func:`load_image`, which either returns an RGB
``PIL.Image`` or raises :class:`ImageLoadError` with a one-line, human-readable reason.
Phone photos load too: HEIC/HEIF through pillow-heif (registered here, once) and AVIF through
Pillow's own plugin when this Pillow was built with it (``PIL.features.check("avif")``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, features

HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
AVIF_EXTENSIONS = frozenset({".avif"})
#: File extensions treated as images when scanning folders (lower case). Phone formats are
#: listed even where their decoder is missing, so such a file is reported, not silently ignored.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
) | HEIF_EXTENSIONS | AVIF_EXTENSIONS


def _register_heif() -> bool:
    """Teach Pillow HEIC/HEIF (iPhone photos) through pillow-heif; False when it is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


HEIF_SUPPORTED = _register_heif()
AVIF_SUPPORTED = bool(features.check("avif"))
#: Decoders Pillow may use; anything else (EPS, PSD plugins, ...) is refused.
ALLOWED_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF", "PPM",
                   *(("HEIF",) if HEIF_SUPPORTED else ()), *(("AVIF",) if AVIF_SUPPORTED else ()))


#: The largest photo decoded, in pixels: above the 200-megapixel phone cameras (Pillow's own
#: default, 89 MP, refused the 108-MP mode of common phones). Larger images are refused as
#: possible decompression bombs: a few KB of PNG can claim gigabytes of pixels.
PIXEL_LIMIT = 2**28  # 268 MP
Image.MAX_IMAGE_PIXELS = PIXEL_LIMIT  # Pillow warns above it (refused here) and raises above twice it


class ImageLoadError(Exception):
    """An image could not be used; ``str(err)`` is a one-line reason."""


def is_image_file(path: Path) -> bool:
    """True for a visible file whose extension is an image extension."""
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def load_image(path: str | os.PathLike[str], max_side: int | None = None) -> Image.Image:
    """Decode ``path`` into an upright RGB image.

    EXIF orientation is applied, every mode is converted to RGB (transparency is flattened on
    white), only real image formats are decoded and decompression bombs are refused.
    ``max_side`` lets thumbnails decode JPEGs at reduced size (``draft``).

    Raises:
        ImageLoadError: with a one-line reason for any file that cannot be used.
    """
    try:
        return _decode(Path(path), max_side)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = (Image.MAX_IMAGE_PIXELS or PIXEL_LIMIT) / 1e6
        raise ImageLoadError(f"image too large: over {limit:.0f} megapixels (refused as a possible decompression "
                             "bomb)") from None
    except FileNotFoundError:
        raise ImageLoadError("file vanished or does not exist") from None
    except PermissionError:
        raise ImageLoadError("permission denied") from None
    except IsADirectoryError:
        raise ImageLoadError("is a directory, not an image") from None
    except Image.UnidentifiedImageError:
        raise ImageLoadError("not a recognised image format") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, RuntimeError) as exc:
        # RuntimeError: pillow-heif's libheif refusals ("Security limit exceeded" for a header
        # claiming 64 x 536870976 px), found by benchmarks/loader_fuzz.py
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageLoadError(f"unreadable image: {reason}") from None
    except Exception as exc:  # noqa: BLE001 - decoders meet hostile bytes; the fuzz found a TIFF
        # whose strip offset is a fraction (Pillow: TypeError). Whatever a decoder raises on a
        # damaged file, the caller gets a reason, never a crash.
        first = (str(exc).splitlines() or [""])[0]
        raise ImageLoadError(f"unreadable image: {type(exc).__name__}: {first}") from None


def _decode(path: Path, max_side: int | None) -> Image.Image:
    if path.stat().st_size == 0:
        raise ImageLoadError("empty file (0 bytes)")
    _check_decoder(path.suffix.lower())
    with warnings.catch_warnings():
        # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path, formats=ALLOWED_FORMATS) as img:
            if max_side is not None and img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return to_rgb(img)


def _check_decoder(suffix: str) -> None:
    """A phone format whose decoder is missing gets a reason that says what to install."""
    if suffix in HEIF_EXTENSIONS and not HEIF_SUPPORTED:
        raise ImageLoadError("HEIC/HEIF photos need pillow-heif (pip install pillow-heif)")
    if suffix in AVIF_EXTENSIONS and not AVIF_SUPPORTED:
        raise ImageLoadError("AVIF photos need Pillow built with AVIF support (pip install -U pillow)")


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode (L, P, RGBA, CMYK, I;16, 1, ...) to RGB sensibly."""
    if img.mode == "RGB":
        return img.copy() if img.readonly else img
    if img.mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale the real range down to 8 bits instead of clipping.
        arr = _as_uint8(img)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "F":
        return Image.fromarray(_as_uint8(img), mode="L").convert("RGB")
    return img.convert("RGB")


def _as_uint8(img: Image.Image) -> np.ndarray:

    arr = np.asarray(img, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return ((arr - lo) * (255.0 / (hi - lo))).round().astype(np.uint8)


def default_workers() -> int:
    """The cores this process may use (one decode worker each)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def find_unreadable(paths: Sequence[Path], workers: int = 0,
                    on_progress: Callable[[int], None] | None = None) -> dict[str, str]:
    """Decode every file once; ``{path: reason}`` for those that cannot be used."""

    def check(p: Path) -> str | None:
        try:
            load_image(p)
        except ImageLoadError as exc:
            return str(exc)
        return None

    failed: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        for n, (p, reason) in enumerate(zip(paths, pool.map(check, paths)), 1):
            if reason:
                failed[str(p)] = reason
            if on_progress:
                on_progress(n)
    return failed
