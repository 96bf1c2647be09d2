"""Pixel limits for images we accept and render (company logos).

A PNG of a few kilobytes can declare 10,000 x 10,000 pixels; decoding it costs hundreds of
megabytes and seconds in every PDF. The limits are checked on the header alone (Pillow reads
the size without decoding), at upload and again before a stored image is rendered.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

MAX_SIDE = 4000
MAX_PIXELS = 16_000_000


def image_size(stream: IO[bytes]) -> tuple[int, int] | None:
    """(width, height) from the image header, or None when it is not an image we can read."""
    try:
        with Image.open(stream) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return int(width), int(height)


def size_allowed(size: tuple[int, int]) -> bool:
    width, height = size
    return max(width, height) <= MAX_SIDE and width * height <= MAX_PIXELS


def validate_image_dimensions(value: Any) -> None:
    """Model field validator: refuse a newly uploaded image beyond MAX_SIDE or MAX_PIXELS.
    An image already stored (``_committed``) is not re-read on every save of its owner; the
    renderer checks it again before use."""
    if not value or getattr(value, "_committed", False):
        return
    stream = getattr(value, "file", value)
    position = stream.tell()
    stream.seek(0)
    try:
        size = image_size(stream)
    finally:
        stream.seek(position)
    if size is not None and not size_allowed(size):
        raise ValidationError(
            _(
                "The image is %(width)d x %(height)d pixels; at most %(side)d pixels a side "
                "and %(megapixels)d megapixels are accepted."
            ),
            code="image_too_large",
            params={
                "width": size[0],
                "height": size[1],
                "side": MAX_SIDE,
                "megapixels": MAX_PIXELS // 1_000_000,
            },
        )
