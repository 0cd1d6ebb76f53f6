"""Whether an uploaded image may be shown, and the two renditions readers get of it.

Users upload straight to S3, so nothing about an upload is trusted: the declared type and
size may be lies, and the bytes may be hostile (a decompression bomb, a truncated file,
something that is not an image at all). `check` decides, with no I/O, in this order:

1. the declared type is one we serve and the file is within the size limit;
2. Pillow, allowed to try only the four formats we serve, recognises the bytes as the
   declared format (so no BMP, TIFF, PSD or EPS parser ever sees hostile bytes);
3. the pixel count read from the header, before any pixel is decoded, is within the limit,
   for one frame and for all frames together: a small file must not make us allocate a
   huge image;
4. every frame decodes completely: a truncated file is rejected, not padded with grey.

An accepted image yields a preview (WebP in a 680x680 box, upright, no metadata) and the
original: the upload byte for byte, unless it carries metadata that can give its owner away
(EXIF with the GPS position and the camera's serial number, XMP, comments, PNG text), in
which case it is re-encoded in its own format without it, upright. A colour profile is
kept: it is colour, not privacy.

Anything wrong raises `Rejected`, with a stable reason code and a sentence for the owner.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from PIL import ExifTags, Image, ImageFile, ImageSequence, UnidentifiedImageError
from PIL.PngImagePlugin import Blend, Disposal

ALLOWED_TYPES: dict[str, str] = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
PREVIEW_EDGE = 680  # the preview fits in a 680x680 box (Twitter's "small"), never upscaled
PREVIEW_TYPE = "image/webp"
MAX_FRAMES = 500

PREVIEW_QUALITY = 80
# All frames of an animation together may hold this many times the pixels of one image.
ANIMATION_PIXEL_FACTOR = 4

# Pillow calls a JPEG that carries extra images (a depth map, a second exposure) MPO.
_FORMAT_FAMILY = {"MPO": "JPEG"}
_ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}
_ENCODER_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 95},
    "PNG": {},  # lossless
    "GIF": {},  # lossless: the frames keep their palettes
    "WEBP": {"quality": 95},
}
# Pillow hands out each frame of an animation whole, so each frame simply replaces the last.
_ANIMATION_OPTIONS: dict[str, dict[str, Any]] = {
    "PNG": {"default_image": False, "disposal": Disposal.OP_NONE, "blend": Blend.OP_SOURCE},
}
_METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "comment")
# JPEG segments about decoding the picture rather than about who took it, where and with what.
_JPEG_DECODING_SEGMENTS = (("APP0", b"JFIF\0"), ("APP2", b"ICC_PROFILE\0"), ("APP14", b"Adobe"))
# Pillow does not read XMP from a GIF (it sits in an application extension, often after the
# last frame), so its identifier is looked for in the bytes.
_GIF_XMP_IDENTIFIER = b"XMP DataXMP"
# What each EXIF orientation asks of a viewer: turn or flip the stored pixels to show them.
# (ImageOps.exif_transpose does the same, but then re-serialises the EXIF it leaves behind,
# which fails on some EXIF Pillow can read; that EXIF is dropped here anyway.)
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS = {5, 6, 7, 8}  # the orientations that swap width and height


class Rejected(Exception):
    """The upload is not an acceptable image. `reason` is a stable code, `message` is for the owner to read."""

    def __init__(self, reason: str, message: str):
        super().__init__(reason, message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@dataclass(frozen=True)
class Rendition:
    body: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Checked:
    original: Rendition  # what readers get as "the original"
    preview: Rendition  # WebP, bounded, orientation applied, no metadata
    rewritten: bool  # True when the original had to be re-encoded to drop metadata


def check(data: bytes, declared_type: str, *, max_bytes: int, max_pixels: int,
          preview_edge: int = PREVIEW_EDGE) -> Checked:
    """The renditions of an acceptable upload, or `Rejected` saying what is wrong with it."""
    image_format = _declared_format(declared_type)
    _check_length(len(data), max_bytes)
    with _hostile_bytes_contained(max_pixels), _opened(data) as img:
        _check_format(img, declared_type, image_format)
        _check_pixels(img, max_pixels, frames=1)
        durations, metadata = [], False
        for frame in _decoded_frames(img, max_pixels):
            durations.append(frame.info.get("duration", 0))
            metadata = metadata or _frame_carries_metadata(frame)
        metadata = metadata or _file_carries_metadata(img, data)
        img.seek(0)
        orientation = _orientation(img)
        size = _displayed_size(img, orientation)
        preview = _preview(img, orientation, preview_edge)
        body = _reencoded(img, orientation, image_format, durations) if metadata else data
        return Checked(Rendition(body, declared_type, *size), preview, rewritten=metadata)


# ------------------------------------------------------------------ the checks, in order
def _declared_format(declared_type: str) -> str:
    if declared_type not in ALLOWED_TYPES:
        raise Rejected("unsupported_type", f"{declared_type or 'an empty type'} is not accepted; "
                                           f"upload one of {', '.join(ALLOWED_TYPES)}")
    return ALLOWED_TYPES[declared_type]


def _check_length(length: int, max_bytes: int) -> None:
    if length > max_bytes:
        raise Rejected("too_large", f"the file is {length:,} bytes; the limit is {max_bytes:,}")
    if length == 0:
        raise Rejected("empty", "the file is empty")


@contextmanager
def _hostile_bytes_contained(max_pixels: int) -> Iterator[None]:
    """Whatever the bytes make Pillow raise becomes a rejection. Hostile input reaches parser
    paths that raise OSError, ValueError, SyntaxError, struct.error, EOFError, IndexError,
    MemoryError and more, so nothing is let through but our own verdicts."""
    with warnings.catch_warnings():
        # Pillow's own bomb limit is a warning up to twice its (global, looser) limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except Rejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Rejected("too_many_pixels", f"the image has too many pixels to decode safely; "
                                              f"the limit is {max_pixels:,}") from None
        except Exception as error:
            raise Rejected("corrupt", "the image is damaged or incomplete and could not be decoded") from error


@contextmanager
def _opened(data: bytes) -> Iterator[ImageFile.ImageFile]:
    try:
        img = Image.open(io.BytesIO(data), formats=list(ALLOWED_TYPES.values()))
    except UnidentifiedImageError:
        raise Rejected("not_an_image", "the file is not a JPEG, PNG, GIF or WebP image") from None
    with img:
        yield img


def _check_format(img: ImageFile.ImageFile, declared_type: str, expected: str) -> None:
    found = _FORMAT_FAMILY.get(img.format, img.format)
    if found != expected:
        raise Rejected("type_mismatch", f"declared {declared_type} but the bytes are a {found} image")


def _check_pixels(img: Image.Image, max_pixels: int, *, frames: int) -> None:
    """From the size alone, so it runs before the pixels it counts are decoded."""
    width, height = img.size
    if width * height > max_pixels:
        raise Rejected("too_many_pixels", f"the image is {width:,}x{height:,} pixels ({width * height:,}); "
                                          f"the limit is {max_pixels:,}")
    if frames > MAX_FRAMES:
        raise Rejected("too_many_frames", f"the animation has {frames:,} frames; the limit is {MAX_FRAMES:,}")
    budget = ANIMATION_PIXEL_FACTOR * max_pixels
    if frames * width * height > budget:
        raise Rejected("too_many_pixels", f"the animation has {frames:,} frames of {width:,}x{height:,} pixels "
                                          f"({frames * width * height:,} in all); the limit is {budget:,}")


def _decoded_frames(img: ImageFile.ImageFile, max_pixels: int) -> Iterator[ImageFile.ImageFile]:
    """Each frame in turn, fully decoded, so damage anywhere in the file is found now rather
    than in a reader's browser."""
    frames = getattr(img, "n_frames", 1)
    for index in range(frames):
        img.seek(index)
        # Again for every frame: a GIF frame that reaches past the canvas grows it.
        _check_pixels(img, max_pixels, frames=frames)
        img.load()
        yield img


# ------------------------------------------------------------------ metadata
def _frame_carries_metadata(img: ImageFile.ImageFile) -> bool:
    """Whether this frame carries data about the owner rather than the picture: where it was
    taken, with what, by whom, and when."""
    if any(key in img.info for key in _METADATA_KEYS) or _exif(img):
        return True
    if img.format in ("JPEG", "MPO"):  # IPTC, a second image, vendor data: anything but decoding
        return not all(_is_decoding_segment(marker, payload) for marker, payload in img.applist)
    return False


def _is_decoding_segment(marker: str, payload: bytes) -> bool:
    return any(marker == known and payload.startswith(prefix) for known, prefix in _JPEG_DECODING_SEGMENTS)


def _file_carries_metadata(img: ImageFile.ImageFile, data: bytes) -> bool:
    """Metadata that may sit anywhere in the file, so is only known once all of it is read."""
    if img.format == "PNG":  # text chunks, and private chunks that may hold anything
        return bool(img.text or img.private_chunks)
    if img.format == "GIF":
        return _GIF_XMP_IDENTIFIER in data
    return False


# ------------------------------------------------------------------ renditions
def _exif(img: Image.Image) -> Image.Exif:
    """The image's EXIF, or none if it is too damaged to read: a browser ignores it then, and
    a damaged block can only have come from the file's own EXIF, which the rewrite drops."""
    try:
        return img.getexif()
    except Exception:
        return Image.Exif()


def _orientation(img: Image.Image) -> int:
    return _exif(img).get(ExifTags.Base.Orientation, 1)


def _displayed_size(img: Image.Image, orientation: int) -> tuple[int, int]:
    width, height = img.size
    return (height, width) if orientation in _SIDEWAYS else (width, height)


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    turn = _TURNS.get(orientation)
    return image.transpose(turn) if turn is not None else image


def _preview(img: Image.Image, orientation: int, edge: int) -> Rendition:
    """The first frame, upright, shrunk into an edge x edge box, as WebP without metadata."""
    frame = _eight_bit(img)
    mode = "RGBA" if frame.has_transparency_data else "RGB"
    if frame.mode not in ("L", "LA", "RGB", "RGBA") or "transparency" in frame.info:
        # Resizing these would pick pixels rather than blend them (P, 1), miss the transparent
        # colour, or fail (16-bit): convert first.
        frame = frame.convert(mode)
    # resize() rather than thumbnail(), which works in place and so would need a full-size copy.
    # Shrink first, turn after: the box is square so the order changes nothing, and turning
    # the small image is cheap.
    small = frame.resize(_fitted(frame.size, edge), Image.Resampling.LANCZOS, reducing_gap=2.0)
    preview = _without_metadata(_upright(small.convert(mode), orientation))
    return Rendition(_encoded(preview, "WEBP", quality=PREVIEW_QUALITY), PREVIEW_TYPE, *preview.size)


def _fitted(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """The size scaled down into an edge x edge box, keeping the aspect ratio; never scaled up."""
    width, height = size
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _eight_bit(img: Image.Image) -> Image.Image:
    """16-bit grey scaled to 8 bits: Pillow's conversion to RGB clips it at 255 instead."""
    if not img.mode.startswith("I"):
        return img
    scaled = img.point(lambda value: value / 256)
    if "transparency" in scaled.info:
        scaled.info["transparency"] //= 256
    return scaled


def _reencoded(img: ImageFile.ImageFile, orientation: int, image_format: str, durations: list[int]) -> bytes:
    """The image in its own format, upright, with its metadata dropped and its colour profile kept."""
    # Pillow's writers take EXIF, XMP and text only from save()'s arguments, never from the
    # image, except a JPEG's or GIF's comment: blanked here.
    options = {**_ENCODER_OPTIONS[image_format], "icc_profile": img.info.get("icc_profile"), "comment": b""}
    animated = image_format in _ANIMATED_FORMATS and len(durations) > 1
    if animated:
        options.update(save_all=True, duration=durations, **_ANIMATION_OPTIONS.get(image_format, {}))
        if "loop" in img.info:
            options["loop"] = img.info["loop"]
    if orientation not in _TURNS:
        # Saved straight from the file, so no frame is copied here.
        return _encoded(img, image_format, **options)
    # Turning needs a copy of every frame; the pixel budget for animations bounds them.
    frames = ImageSequence.Iterator(img) if animated else [img]
    upright = [_without_metadata(_upright(frame, orientation)) for frame in frames]
    return _encoded(upright[0], image_format, append_images=upright[1:], **options)


def _without_metadata(image: Image.Image) -> Image.Image:
    """The image, its info (what writers may copy into the file) cut down to transparency."""
    image.info = {key: value for key, value in image.info.items() if key == "transparency"}
    return image


def _encoded(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()
