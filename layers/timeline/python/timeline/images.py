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
original, which holds the picture and nothing else. The file's own structure is walked from
its start (JPEG segments, PNG chunks, GIF blocks, WebP's RIFF chunks), and:

- anything after the image's end (after JPEG's EOI, PNG's IEND, GIF's trailer, the size the
  WebP's RIFF header declares: a second, GPS-tagged photo, a motion photo's video, a ZIP) is
  cut off;
- a part of the file that is not the picture, its frames and timing or its colour is
  dropped: metadata that can give the owner away (EXIF with the GPS position and the
  camera's serial number, XMP, IPTC, comments, PNG text, times, a JFIF thumbnail, a second
  image), and whatever else may carry hidden data (chunks, segments and extensions we do
  not know, parts longer than their content, bytes between parts). Then the image is
  re-encoded in its own format from its decoded pixels, upright, with all its frames.

So the original is the upload byte for byte, or the upload cut at its image's end (the image
itself untouched: a JPEG is not compressed again for that alone), or a re-encode. A colour
profile is kept: it is colour, not privacy. Not looked for: data inside the compressed pixel
streams themselves (after the end of a JPEG scan's, a PNG's zlib, a GIF's LZW or a VP8
stream, within their chunks), which only re-encoding every upload would remove.

Anything wrong raises `Rejected`, with a stable reason code and a sentence for the owner.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
# JPEG application segments about decoding the picture rather than about who took it, where
# and with what: (marker, how the payload starts, its exact length or None for any). JFIF's
# 14 bytes have no room for its thumbnail, nor Adobe's 12 for anything but the colour transform.
_JPEG_DECODING_SEGMENTS = (("APP0", b"JFIF\0", 14), ("APP2", b"ICC_PROFILE\0", None), ("APP14", b"Adobe", 12))
# The other JPEG segments kept: frame headers (SOF0-3, 5-7, 9-11, 13-15), Huffman and
# arithmetic tables, quantisation tables, the restart interval, the line count, scans.
_JPEG_PICTURE_MARKERS = frozenset({*range(0xC0, 0xD0), 0xDA, 0xDB, 0xDC, 0xDD}) - {0xC8}
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
# Where a scan's entropy-coded data ends: a marker, i.e. 0xFF followed by neither a stuffed
# zero, a restart marker nor a fill byte.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# PNG chunks kept, and the most bytes those of a fixed size may hold: the picture, its
# animation and its colour. Text, EXIF, times, private and unknown chunks are not kept.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"bKGD",
                         b"pHYs", b"iCCP", b"cICP", b"mDCV", b"cLLI", b"acTL", b"fcTL", b"fdAT"})
_PNG_CHUNK_LIMITS = {b"IHDR": 13, b"PLTE": 768, b"IEND": 0, b"tRNS": 256, b"gAMA": 4, b"cHRM": 32, b"sRGB": 1,
                     b"sBIT": 4, b"bKGD": 6, b"pHYs": 9, b"cICP": 4, b"mDCV": 24, b"cLLI": 8, b"acTL": 8, b"fcTL": 26}
# WebP chunks kept, in the file and in an animation frame (ANMF), and the most bytes each may hold.
_WEBP_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_WEBP_FRAME_CHUNKS = frozenset({b"ALPH", b"VP8 ", b"VP8L"})
_WEBP_CHUNK_LIMITS = {b"VP8X": 10, b"ANIM": 6}
_WEBP_FRAME_HEADER = 16  # an ANMF's position, size, duration and flags, before its chunks
# GIF application extensions kept: the loop count, in its one 3-byte sub-block.
_GIF_LOOP_EXTENSIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_GIF_IMAGE, _GIF_EXTENSION, _GIF_TRAILER = 0x2C, 0x21, 0x3B
_GIF_GRAPHIC_CONTROL, _GIF_APPLICATION = 0xF9, 0xFF
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
    rewritten: bool  # True when the original is not the upload byte for byte: cut at the image's end, or re-encoded


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
        end = None if metadata else _image_end(data, image_format)
        img.seek(0)
        orientation = _orientation(img)
        size = _displayed_size(img, orientation)
        preview = _preview(img, orientation, preview_edge)
        # what trails the image is cut off; the image itself is the upload's
        body = _reencoded(img, orientation, image_format, durations) if end is None else data[:end]
        return Checked(Rendition(body, declared_type, *size), preview, rewritten=end != len(data))


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
    found = _FORMAT_FAMILY.get(img.format, img.format) if img.format is not None else None
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
        # Pillow declares applist on JpegImageFile only; a JPEG or MPO frame is one.
        segments = img.applist  # type: ignore[attr-defined]
        return not all(_is_decoding_segment(marker, payload) for marker, payload in segments)
    return False


def _is_decoding_segment(marker: str, payload: bytes) -> bool:
    return any(marker == known and payload.startswith(prefix) and length in (None, len(payload))
               for known, prefix, length in _JPEG_DECODING_SEGMENTS)


# ------------------------------------------------------------------ the file's structure
def _image_end(data: bytes, image_format: str) -> int | None:
    """Where the image ends in `data` (its length, unless something trails the image), if the
    file's structure, walked from its start, holds nothing but the parts we keep; None if it
    holds anything else, or is laid out in a way this walk does not follow. Pillow has decoded
    the file already, so this only decides between keeping the upload's bytes and
    re-encoding: it never raises."""
    walk = {"JPEG": _jpeg_end, "PNG": _png_end, "GIF": _gif_end, "WEBP": _webp_end}[image_format]
    try:
        end = walk(data)
    except (IndexError, struct.error):  # ran off the end of the file
        return None
    return end if end is not None and end <= len(data) else None


def _jpeg_end(data: bytes) -> int | None:
    """After the EOI that ends the first image, if it is made only of segments that decode
    the picture."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while True:
        if data[pos] != 0xFF:  # bytes between segments, which decoders skip
            return None
        while data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == _JPEG_EOI:
            return pos
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            return None
        if 0xE0 <= marker <= 0xEF:
            if not _is_decoding_segment(f"APP{marker - 0xE0}", data[pos + 2:pos + length]):
                return None
        elif marker not in _JPEG_PICTURE_MARKERS:  # COM, and anything else
            return None
        pos += length
        if marker == _JPEG_SOS:
            scan_end = _JPEG_SCAN_END.search(data, pos)
            if scan_end is None:
                return None
            pos = scan_end.start()


def _png_end(data: bytes) -> int | None:
    """After the IEND chunk, if every chunk before it is one we keep, within its size."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    pos = len(_PNG_SIGNATURE)
    length: int
    kind: bytes
    while True:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind not in _PNG_CHUNKS or length > _PNG_CHUNK_LIMITS.get(kind, length):
            return None
        pos += 12 + length  # length, type, data, CRC
        if kind == b"IEND":
            return pos


def _gif_end(data: bytes) -> int | None:
    """After the trailer, if the blocks before it are only images, their timing and the loop count."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    pos = 13 + _gif_palette_size(data[10])  # header, logical screen descriptor, global palette
    while True:
        block = data[pos]
        if block == _GIF_TRAILER:
            return pos + 1
        if block == _GIF_IMAGE:
            # descriptor, local palette, LZW minimum code size, then the data's sub-blocks
            pos = _gif_sub_blocks_end(data, pos + 11 + _gif_palette_size(data[pos + 9]))
        elif block == _GIF_EXTENSION and data[pos + 1] == _GIF_GRAPHIC_CONTROL:
            if data[pos + 2] != 4 or data[pos + 7] != 0:  # one sub-block of 4 bytes
                return None
            pos += 8
        elif block == _GIF_EXTENSION and data[pos + 1] == _GIF_APPLICATION:
            # identifier, then one sub-block: 1 and the loop count
            if (data[pos + 2] != 11 or data[pos + 3:pos + 14] not in _GIF_LOOP_EXTENSIONS
                    or data[pos + 14:pos + 16] != b"\x03\x01" or data[pos + 18] != 0):
                return None
            pos += 19
        else:  # comments, plain text, other applications' data (XMP, ICC), stray bytes
            return None


def _gif_palette_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _gif_sub_blocks_end(data: bytes, pos: int) -> int:
    while size := data[pos]:
        pos += size + 1
    return pos + 1


def _webp_end(data: bytes) -> int | None:
    """Where the RIFF container says it ends, if its chunks are only the picture, its
    animation and its colour profile."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    size: int
    (size,) = struct.unpack_from("<I", data, 4)
    end = 8 + size
    if end > len(data) or not _webp_chunks_kept(data, 12, end, _WEBP_CHUNKS):
        return None
    return end


def _webp_chunks_kept(data: bytes, pos: int, end: int, kept: frozenset[bytes]) -> bool:
    while pos < end:
        kind = data[pos:pos + 4]
        (length,) = struct.unpack_from("<I", data, pos + 4)
        body, pos = pos + 8, pos + 8 + length + (length & 1)  # an odd chunk is padded
        if kind not in kept or length > _WEBP_CHUNK_LIMITS.get(kind, length) or pos > end:
            return False
        if length & 1 and data[pos - 1] != 0:
            return False
        if kind == b"ANMF" and (length < _WEBP_FRAME_HEADER or not _webp_chunks_kept(
                data, body + _WEBP_FRAME_HEADER, body + length, _WEBP_FRAME_CHUNKS)):
            return False
    return pos == end


# ------------------------------------------------------------------ renditions
def _exif(img: Image.Image) -> Image.Exif:
    """The image's EXIF, or none if it is too damaged to read: a browser ignores it then, and
    a damaged block can only have come from the file's own EXIF, which the rewrite drops."""
    try:
        return img.getexif()
    except Exception:
        return Image.Exif()


def _orientation(img: Image.Image) -> int:
    orientation: int = _exif(img).get(ExifTags.Base.Orientation, 1)
    return orientation


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
