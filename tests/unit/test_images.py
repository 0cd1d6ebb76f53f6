"""timeline.images: what an uploaded image must be before anyone sees it. Pure: no AWS.

Every fixture is built here with Pillow or by hand (struct, zlib, crc32), small and fast.
"""

from __future__ import annotations

import binascii
import io
import random
import struct
import sys
import time
import warnings
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageCms, ImageFile
from PIL.PngImagePlugin import PngInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "timeline" / "python"))

from timeline import images
from timeline.images import ALLOWED_TYPES, MAX_FRAMES, PREVIEW_EDGE, PREVIEW_TYPE, Checked, Rejected

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 24_000_000
GPS_IFD = ExifTags.IFD.GPSInfo
ORIENTATION = ExifTags.Base.Orientation
RED, BLUE = (220, 20, 20), (20, 20, 220)
TYPE_OF = {fmt: content_type for content_type, fmt in ALLOWED_TYPES.items()}


# ------------------------------------------------------------------ fixtures, made in code
def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def reopen(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def marked(size=(64, 48)) -> Image.Image:
    """Blue with a red top-left corner, so a turn shows where that corner went."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    return image


def photo(size=(64, 48)) -> Image.Image:
    """Detailed enough that cutting the file in half cuts pixel data."""
    return Image.effect_mandelbrot(size, (-2.0, -1.5, 1.0, 1.5), 60).convert("RGB")


def frames(count: int, size=(16, 12)) -> list[Image.Image]:
    """Frames that differ, so no writer merges them."""
    return [Image.new("RGB", size, ((40 * i) % 256, 100, 255 - (40 * i) % 256)) for i in range(count)]


def animation(fmt: str, count: int = 3, **options) -> bytes:
    first, *rest = frames(count)
    return encode(first, fmt, save_all=True, append_images=rest, duration=[100 * (i + 1) for i in range(count)],
                  loop=0, **options)


def gps_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}
    exif[ExifTags.Base.BodySerialNumber] = "CAM-0042"
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", binascii.crc32(kind + payload))


def handmade_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height 8-bit grey pixels, with a tiny IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + png_chunk(b"IEND", b""))


GIF_ONE_PIXEL_DATA = b"\x02\x02\x44\x01\x00"  # LZW minimum code size, one sub-block, terminator


def gif_frame(width: int, height: int) -> bytes:
    return b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + GIF_ONE_PIXEL_DATA


def handmade_gif(screen: tuple[int, int], *frame_sizes: tuple[int, int]) -> bytes:
    """A GIF with a two-colour global palette, a logical screen and frames of the sizes given."""
    header = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    return header + b"".join(gif_frame(*size) for size in frame_sizes) + b";"


def with_gif_xmp(gif: bytes) -> bytes:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>Jane</dc:creator></x:xmpmeta>'
    blocks = b"".join(bytes([len(xmp[i:i + 255])]) + xmp[i:i + 255] for i in range(0, len(xmp), 255))
    return gif[:-1] + b"\x21\xff\x0bXMP DataXMP" + blocks + b"\x00;"


def iptc_segment(city: bytes = b"Lisbon") -> bytes:
    """A JPEG APP13 (Photoshop) segment holding an IPTC City record."""
    iptc = b"\x1c\x02\x5a" + struct.pack(">H", len(city)) + city
    payload = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


HIDDEN = b"hidden: 51.5074N 0.1278W, flat 2"


def gps_tagged_jpeg() -> bytes:
    """A second photo, as a phone's motion photo or a polyglot appends one: GPS and serial in its EXIF."""
    return encode(Image.new("RGB", (32, 24), "green"), "JPEG", exif=gps_exif(orientation=1))


def webp_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


def riff_webp(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def extended_webp(simple: bytes, *extra_chunks: bytes) -> bytes:
    """A simple (VP8/VP8L-only) WebP in the extended layout, with extra chunks after its image."""
    width, height = reopen(simple).size
    vp8x = webp_chunk(b"VP8X", bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))
    return riff_webp(vp8x, simple[12:], *extra_chunks)


def png_with_chunk_before_iend(png: bytes, chunk: bytes) -> bytes:
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + chunk + png[iend:]


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def frame_count(data: bytes) -> int:
    return getattr(reopen(data), "n_frames", 1)


def ends_at_its_end_marker(body: bytes, fmt: str) -> bool:
    """Whether the file ends where its own structure says the image ends."""
    if fmt == "JPEG":
        return body.endswith(b"\xff\xd9")
    if fmt == "PNG":
        return body.endswith(png_chunk(b"IEND", b""))
    if fmt == "GIF":
        return body.endswith(b"\0;")  # a block terminator, then the trailer
    return body[:4] == b"RIFF" and len(body) == 8 + struct.unpack("<I", body[4:8])[0]


def check(data: bytes, declared_type: str, **limits) -> Checked:
    limits = {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS, **limits}
    return images.check(data, declared_type, **limits)


def rejection(data: bytes, declared_type: str, **limits) -> Rejected:
    with pytest.raises(Rejected) as caught:
        check(data, declared_type, **limits)
    return caught.value


def is_red(pixel) -> bool:
    return pixel[0] > 150 and pixel[2] < 100


def assert_preview_is_clean_webp(checked: Checked, edge: int = PREVIEW_EDGE) -> Image.Image:
    preview = reopen(checked.preview.body)
    assert checked.preview.content_type == PREVIEW_TYPE == "image/webp"
    assert preview.format == "WEBP" and not getattr(preview, "is_animated", False)
    assert preview.size == (checked.preview.width, checked.preview.height)
    assert max(preview.size) <= edge
    assert not preview.getexif() and not {"exif", "xmp", "icc_profile"} & preview.info.keys()
    return preview


# ------------------------------------------------------------------ accepted as uploaded
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_given_each_allowed_type_when_checked_then_the_original_is_the_upload_byte_for_byte(fmt):
    upload = encode(photo(), fmt)

    checked = check(upload, TYPE_OF[fmt])

    assert checked.rewritten is False
    assert checked.original.body == upload
    assert (checked.original.content_type, checked.original.width, checked.original.height) == (TYPE_OF[fmt], 64, 48)
    assert_preview_is_clean_webp(checked)


def test_given_a_small_png_when_checked_then_the_preview_is_not_upscaled():
    checked = check(encode(marked((64, 48)), "PNG"), "image/png")

    assert (checked.preview.width, checked.preview.height) == (64, 48)


def test_given_a_wide_jpeg_when_checked_then_the_preview_fits_the_box_keeping_the_aspect_ratio():
    checked = check(encode(photo((1600, 900)), "JPEG", quality=70), "image/jpeg")

    preview = assert_preview_is_clean_webp(checked)
    assert (checked.original.width, checked.original.height) == (1600, 900)
    assert preview.size[0] == PREVIEW_EDGE and abs(preview.size[1] - 900 * PREVIEW_EDGE / 1600) <= 1


def test_given_a_tall_png_and_a_smaller_box_when_checked_then_the_preview_fits_that_box():
    checked = check(encode(photo((90, 300)), "PNG"), "image/png", preview_edge=100)

    assert (checked.preview.width, checked.preview.height) == (30, 100)


def test_given_a_transparent_png_when_checked_then_the_preview_keeps_its_alpha():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 10, 10))

    preview = reopen(check(encode(image, "PNG"), "image/png").preview.body)

    assert preview.mode == "RGBA" and preview.getpixel((15, 15))[3] == 0 and preview.getpixel((2, 2))[3] == 255


def test_given_a_16_bit_grey_png_when_checked_then_the_preview_is_scaled_not_clipped():
    grey = Image.new("I;16", (8, 8), 32768)  # half of 65,535
    upload = encode(grey, "PNG")
    assert reopen(upload).mode == "I;16"

    checked = check(upload, "image/png")

    assert checked.rewritten is False
    assert reopen(checked.preview.body).convert("L").getpixel((4, 4)) in range(120, 136)


def test_given_an_opaque_jpeg_when_checked_then_the_preview_has_no_alpha():
    assert reopen(check(encode(photo(), "JPEG"), "image/jpeg").preview.body).mode == "RGB"


def test_given_a_cmyk_jpeg_when_checked_then_it_is_accepted_and_previewed_in_rgb():
    checked = check(encode(photo().convert("CMYK"), "JPEG"), "image/jpeg")

    assert checked.rewritten is False and reopen(checked.preview.body).mode == "RGB"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_given_an_animation_without_metadata_when_checked_then_it_is_kept_and_the_preview_is_still(fmt):
    upload = animation(fmt)

    checked = check(upload, TYPE_OF[fmt])

    assert checked.rewritten is False and checked.original.body == upload
    assert reopen(upload).n_frames == 3
    assert (checked.original.width, checked.original.height) == (16, 12)
    assert_preview_is_clean_webp(checked)


def test_given_a_gif_with_a_transparent_colour_when_checked_then_the_preview_is_transparent_there():
    image = Image.new("P", (10, 10), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.paste(0, (0, 0, 5, 5))

    preview = reopen(check(encode(image, "GIF", transparency=0), "image/gif").preview.body)

    assert preview.mode == "RGBA" and preview.getpixel((1, 1))[3] == 0 and preview.getpixel((8, 8))[3] == 255


def test_given_a_png_with_only_a_colour_profile_when_checked_then_it_is_not_rewritten():
    upload = encode(photo(), "PNG", icc_profile=srgb_profile())
    assert "icc_profile" in reopen(upload).info

    checked = check(upload, "image/png")

    assert checked.rewritten is False and checked.original.body == upload


# ------------------------------------------------------------------ metadata dropped
def test_given_a_jpeg_with_gps_orientation_and_a_comment_when_checked_then_the_original_is_rewritten_upright():
    upload = encode(marked((64, 48)), "JPEG", exif=gps_exif(orientation=6), comment=b"at home", quality=95)
    given = reopen(upload)
    assert given.getexif().get_ifd(GPS_IFD) and given.info["comment"] == b"at home"

    checked = check(upload, "image/jpeg")

    original = reopen(checked.original.body)
    assert checked.rewritten is True
    assert (checked.original.content_type, original.format) == ("image/jpeg", "JPEG")
    exif = original.getexif()
    assert GPS_IFD not in exif and ORIENTATION not in exif and not exif.get_ifd(GPS_IFD) and not exif
    assert not {"exif", "comment", "xmp"} & original.info.keys()
    # Orientation 6 is "turn 90 degrees clockwise to display": 64x48 becomes 48x64, and
    # the red top-left corner ends up top-right.
    assert original.size == (checked.original.width, checked.original.height) == (48, 64)
    assert is_red(original.convert("RGB").getpixel((44, 4))) and not is_red(original.convert("RGB").getpixel((4, 4)))
    preview = assert_preview_is_clean_webp(checked)
    assert preview.size == (48, 64)
    assert is_red(preview.convert("RGB").getpixel((44, 4))) and not is_red(preview.convert("RGB").getpixel((4, 4)))


@pytest.mark.parametrize("orientation, size", [(1, (64, 48)), (3, (64, 48)), (5, (48, 64)), (8, (48, 64))])
def test_given_each_orientation_when_checked_then_width_and_height_are_as_displayed(orientation, size):
    checked = check(encode(marked(), "JPEG", exif=gps_exif(orientation)), "image/jpeg")

    assert (checked.original.width, checked.original.height) == size == reopen(checked.original.body).size
    assert (checked.preview.width, checked.preview.height) == size


def test_given_a_jpeg_with_exif_and_a_colour_profile_when_checked_then_the_profile_is_kept():
    profile = srgb_profile()

    checked = check(encode(photo(), "JPEG", exif=gps_exif(1), icc_profile=profile), "image/jpeg")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and original.info.get("icc_profile") == profile and not original.getexif()


def test_given_a_jpeg_with_an_iptc_city_when_checked_then_the_original_is_rewritten_without_it():
    upload = encode(photo(), "JPEG", extra=iptc_segment(b"Lisbon"))
    assert "photoshop" in reopen(upload).info

    checked = check(upload, "image/jpeg")

    assert checked.rewritten is True and b"Lisbon" not in checked.original.body
    assert "photoshop" not in reopen(checked.original.body).info


def test_given_a_jpeg_carrying_a_second_image_when_checked_then_only_the_first_is_kept():
    upload = encode(marked(), "MPO", save_all=True, append_images=[Image.new("RGB", (64, 48), "green")])
    assert reopen(upload).format == "MPO"  # what Pillow calls a JPEG with extra images

    checked = check(upload, "image/jpeg")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and original.format == "JPEG" and not getattr(original, "is_animated", False)
    assert is_red(original.getpixel((2, 2)))


def test_given_a_png_with_a_text_chunk_when_checked_then_it_is_rewritten_without_text_and_pixels_identical():
    image = photo()
    text = PngInfo()
    text.add_text("Author", "Jane Doe")
    text.add_itxt("Location", "51.5N 0.1W", zip=True)
    upload = encode(image, "PNG", pnginfo=text)
    assert reopen(upload).text

    checked = check(upload, "image/png")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and original.format == "PNG" and not original.text
    assert b"Jane" not in checked.original.body
    assert original.convert("RGB").tobytes() == image.tobytes()


def test_given_a_png_with_exif_when_checked_then_it_is_rewritten_upright_and_lossless():
    image = marked()
    upload = encode(image, "PNG", exif=gps_exif(orientation=6))

    checked = check(upload, "image/png")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and not original.getexif() and "exif" not in original.info
    assert original.tobytes() == image.transpose(Image.Transpose.ROTATE_270).tobytes()


def test_given_a_webp_with_exif_and_xmp_when_checked_then_it_is_rewritten_as_webp_without_them():
    upload = encode(photo(), "WEBP", exif=gps_exif(1), xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    assert {"exif", "xmp"} <= reopen(upload).info.keys()

    checked = check(upload, "image/webp")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and original.format == "WEBP"
    assert not {"exif", "xmp"} & original.info.keys()


def test_given_an_animated_gif_with_a_comment_when_checked_then_it_is_rewritten_keeping_frames_and_timing():
    upload = animation("GIF", comment=b"made at 12 Acacia Avenue")

    checked = check(upload, "image/gif")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and b"Acacia" not in checked.original.body
    assert original.format == "GIF" and original.n_frames == 3 and original.info.get("loop") == 0
    durations = []
    for index in range(original.n_frames):
        original.seek(index)
        durations.append(original.info["duration"])
    assert durations == [100, 200, 300]


def test_given_a_still_gif_with_a_comment_when_checked_then_it_is_rewritten_without_it_pixels_identical():
    image = photo().convert("P")
    upload = encode(image, "GIF", comment=b"my address")

    checked = check(upload, "image/gif")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and "comment" not in original.info and b"address" not in checked.original.body
    assert original.convert("RGB").tobytes() == image.convert("RGB").tobytes()


def test_given_a_gif_with_xmp_when_checked_then_it_is_rewritten_without_it():
    upload = with_gif_xmp(encode(photo().convert("P"), "GIF"))
    assert reopen(upload).size == (64, 48)

    checked = check(upload, "image/gif")

    assert checked.rewritten is True and b"XMP DataXMP" not in checked.original.body and b"Jane" not in checked.original.body


def test_given_an_animated_png_with_text_when_checked_then_it_is_rewritten_still_animated():
    text = PngInfo()
    text.add_text("Comment", "our flat")
    upload = animation("PNG", pnginfo=text)

    checked = check(upload, "image/png")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and not original.text and original.n_frames == 3
    for index, frame in enumerate(frames(3)):
        original.seek(index)
        assert original.convert("RGB").tobytes() == frame.tobytes()


def test_given_an_animated_webp_turned_by_exif_when_checked_then_every_frame_is_turned():
    upload = animation("WEBP", exif=gps_exif(orientation=6).tobytes(), lossless=True)

    checked = check(upload, "image/webp")

    original = reopen(checked.original.body)
    assert checked.rewritten is True and "exif" not in original.info
    assert original.n_frames == 3 and original.size == (12, 16) == (checked.original.width, checked.original.height)


# ------------------------------------------------------------------ nothing hidden after the end, or inside
CLEAN_UPLOADS = {
    "jpeg": ("JPEG", lambda: encode(photo(), "JPEG", quality=90)),
    "progressive_jpeg": ("JPEG", lambda: encode(photo(), "JPEG", progressive=True)),
    "cmyk_jpeg": ("JPEG", lambda: encode(photo().convert("CMYK"), "JPEG")),
    "jpeg_with_restarts": ("JPEG", lambda: encode(photo(), "JPEG", progressive=True, restart_marker_rows=1)),
    "jpeg_with_profile": ("JPEG", lambda: encode(photo(), "JPEG", icc_profile=srgb_profile())),
    "png": ("PNG", lambda: encode(photo(), "PNG")),
    "png_with_profile": ("PNG", lambda: encode(photo(), "PNG", icc_profile=srgb_profile())),
    "apng": ("PNG", lambda: animation("PNG")),
    "gif": ("GIF", lambda: encode(photo().convert("P"), "GIF")),
    "animated_gif": ("GIF", lambda: animation("GIF")),
    "webp": ("WEBP", lambda: encode(photo(), "WEBP")),
    "lossless_webp": ("WEBP", lambda: encode(photo(), "WEBP", lossless=True)),
    "transparent_webp": ("WEBP", lambda: encode(Image.new("RGBA", (9, 7), (1, 2, 3, 4)), "WEBP")),
    "animated_webp": ("WEBP", lambda: animation("WEBP")),
}
TRAILERS = {"gps_jpeg": gps_tagged_jpeg, "text": lambda: HIDDEN, "zeros": lambda: bytes(64),
            "zip": lambda: b"PK\x03\x04" + bytes(26) + HIDDEN}


@pytest.mark.parametrize("trailer", sorted(TRAILERS))
@pytest.mark.parametrize("sample", sorted(CLEAN_UPLOADS))
def test_given_each_accepted_kind_with_bytes_after_its_end_when_checked_then_the_original_is_cut_at_the_end(
        sample, trailer):
    fmt, make = CLEAN_UPLOADS[sample]
    clean, appended = make(), TRAILERS[trailer]()
    assert reopen(clean + appended).format == fmt  # Pillow reads the image and ignores what follows

    checked = check(clean + appended, TYPE_OF[fmt])

    # Cut, not re-encoded: the image itself is the upload's, byte for byte, all of its frames kept.
    assert checked.original.body == clean and checked.rewritten is True
    assert ends_at_its_end_marker(checked.original.body, fmt)
    assert frame_count(checked.original.body) == frame_count(clean)


def test_given_a_jpeg_with_a_gps_tagged_jpeg_appended_when_checked_then_neither_the_jpeg_nor_its_gps_is_stored():
    # The review's finding: the first image is clean, so it used to be stored as uploaded,
    # appended photo, GPS position and camera serial number included.
    first, second = encode(marked(), "JPEG", quality=95), gps_tagged_jpeg()
    assert reopen(second).getexif().get_ifd(GPS_IFD)

    checked = check(first + second, "image/jpeg")

    body = checked.original.body
    assert body == first and second not in body
    assert body.count(b"\xff\xd8") == 1 and body.count(b"\xff\xd9") == 1 and body.endswith(b"\xff\xd9")
    assert b"Exif\0\0" not in body and b"CAM-0042" not in body
    assert not reopen(body).getexif() and reopen(body).tobytes() == reopen(first).tobytes()


def test_given_a_jpeg_with_gps_and_a_jpeg_appended_when_checked_then_it_is_reencoded_ending_at_its_end_marker():
    upload = encode(marked(), "JPEG", exif=gps_exif(orientation=6), quality=95) + gps_tagged_jpeg()

    checked = check(upload, "image/jpeg")

    body = checked.original.body
    assert checked.rewritten is True and ends_at_its_end_marker(body, "JPEG")
    assert body.count(b"\xff\xd8") == 1 and b"Exif\0\0" not in body and b"CAM-0042" not in body
    assert reopen(body).size == (48, 64)


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_given_metadata_and_bytes_after_the_end_when_checked_then_the_rewrite_carries_neither(fmt):
    options = {"PNG": {"exif": gps_exif(1)}, "GIF": {"comment": b"at home"}, "WEBP": {"exif": gps_exif(1)}}[fmt]
    upload = encode(photo() if fmt != "GIF" else photo().convert("P"), fmt, **options) + HIDDEN

    checked = check(upload, TYPE_OF[fmt])

    assert checked.rewritten is True and HIDDEN not in checked.original.body
    assert ends_at_its_end_marker(checked.original.body, fmt)


def inserted_before(data: bytes, where: bytes, inserted: bytes) -> bytes:
    at = data.index(where)
    return data[:at] + inserted + data[at:]


def gif_extension(label: int, header: bytes, payload: bytes) -> bytes:
    """An extension block: its header sub-block, one sub-block of payload, the terminator."""
    return bytes([0x21, label, len(header)]) + header + bytes([len(payload)]) + payload + b"\0"


def png_photo() -> bytes:
    return encode(photo(), "PNG")


def jpeg_photo() -> bytes:
    return encode(photo(), "JPEG")


def gif_photo() -> bytes:
    return encode(photo().convert("P"), "GIF")


# Data where Pillow reads past it without a word: chunks, segments and extensions it does not
# know or does not keep, known ones longer than their content, bytes between parts.
HIDDEN_INSIDE = {
    "png_gifx_chunk": ("PNG", lambda: png_with_chunk_before_iend(png_photo(), png_chunk(b"gIFx", b"HIDDENAP1.0" + HIDDEN))),
    "png_time_chunk": ("PNG", lambda: png_with_chunk_before_iend(png_photo(), png_chunk(b"tIME", bytes(7) + HIDDEN))),
    "png_long_gamma": ("PNG", lambda: png_with_chunk_before_iend(png_photo(), png_chunk(b"gAMA", bytes(4) + HIDDEN))),
    "png_data_in_iend": ("PNG", lambda: png_photo()[:-12] + png_chunk(b"IEND", HIDDEN)),
    "png_private_chunk": ("PNG", lambda: png_with_chunk_before_iend(png_photo(), png_chunk(b"prIv", HIDDEN))),
    "jpeg_long_adobe_segment": ("JPEG", lambda: inserted_before(
        jpeg_photo(), b"\xff\xdb", jpeg_segment(0xEE, b"Adobe\0d\0\0\0\0\x01" + HIDDEN))),
    "jpeg_bytes_between_segments": ("JPEG", lambda: inserted_before(jpeg_photo(), b"\xff\xdb", HIDDEN)),
    # Pillow's JFIF segment (18 bytes after SOI) replaced by one announcing a 2x2 thumbnail.
    "jpeg_jfif_thumbnail": ("JPEG", lambda: b"\xff\xd8" + jpeg_segment(
        0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\x02\x02" + HIDDEN[:12]) + jpeg_photo()[20:]),
    "gif_bytes_between_blocks": ("GIF", lambda: inserted_before(gif_photo(), b",", HIDDEN.replace(b",", b" "))),
    "gif_application_extension": ("GIF", lambda: animation("GIF")[:-1] + gif_extension(0xFF, b"HIDDENAP1.0", HIDDEN)
                                  + b";"),
    "gif_plain_text_extension": ("GIF", lambda: gif_photo()[:-1] + gif_extension(0x01, bytes(12), HIDDEN) + b";"),
    "webp_unknown_chunk": ("WEBP", lambda: extended_webp(encode(photo(), "WEBP"), webp_chunk(b"HIDE", HIDDEN))),
    "webp_chunk_after_simple_image": ("WEBP", lambda: riff_webp(encode(photo(), "WEBP")[12:],
                                                                webp_chunk(b"HIDE", HIDDEN))),
}


@pytest.mark.parametrize("sample", sorted(HIDDEN_INSIDE))
def test_given_data_hidden_where_pillow_does_not_look_when_checked_then_the_original_is_rewritten_without_it(sample):
    fmt, make = HIDDEN_INSIDE[sample]
    upload = make()
    given = reopen(upload)
    given.load()
    assert given.format == fmt and HIDDEN[:12] in upload

    checked = check(upload, TYPE_OF[fmt])

    original = reopen(checked.original.body)
    assert checked.rewritten is True and HIDDEN[:12] not in checked.original.body
    assert original.format == fmt and frame_count(checked.original.body) == frame_count(upload)
    if fmt in ("PNG", "GIF"):  # lossless: the rewrite changes no pixel
        assert original.convert("RGB").tobytes() == given.convert("RGB").tobytes()
    assert check(checked.original.body, TYPE_OF[fmt]).original.body == checked.original.body


# ------------------------------------------------------------------ the wrong thing
@pytest.mark.parametrize("declared", ["image/svg+xml", "image/bmp", "image/tiff", "text/html", "image/jpg", ""])
def test_given_an_unsupported_declared_type_when_checked_then_unsupported_type(declared):
    assert rejection(encode(photo(), "PNG"), declared).reason == "unsupported_type"


@pytest.mark.parametrize("fmt, declared", [("PNG", "image/jpeg"), ("JPEG", "image/png"), ("GIF", "image/webp"),
                                           ("WEBP", "image/gif")])
def test_given_bytes_contradicting_the_declared_type_when_checked_then_type_mismatch(fmt, declared):
    rejected = rejection(encode(photo(), fmt), declared)

    assert rejected.reason == "type_mismatch"
    assert rejected.message == f"declared {declared} but the bytes are a {fmt} image"


@pytest.mark.parametrize("data", [random.Random(7).randbytes(4096), b"hello, this is a text file\n" * 20,
                                  b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7\n"],
                         ids=["random", "text", "svg", "pdf"])
def test_given_bytes_that_are_not_an_image_when_checked_then_not_an_image(data):
    assert rejection(data, "image/png").reason == "not_an_image"


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM", "TGA", "PCX", "EPS"])
def test_given_another_pillow_format_declared_as_png_when_checked_then_only_our_four_parsers_are_tried(fmt, monkeypatch):
    upload = encode(photo(), fmt)
    formats_tried = []
    open_core = Image.open

    def spying_open(fp, mode="r", formats=None):
        formats_tried.append(formats)
        return open_core(fp, mode, formats)
    monkeypatch.setattr(Image, "open", spying_open)

    assert rejection(upload, "image/png").reason in ("not_an_image", "type_mismatch")
    assert formats_tried == [["JPEG", "PNG", "GIF", "WEBP"]]


def test_given_an_empty_file_when_checked_then_empty():
    assert rejection(b"", "image/png").reason == "empty"


def test_given_a_file_over_the_limit_when_checked_then_too_large_saying_both_sizes():
    rejected = rejection(b"\0" * 6_000_000, "image/jpeg", max_bytes=5_242_880)

    assert (rejected.reason, rejected.message) == ("too_large", "the file is 6,000,000 bytes; the limit is 5,242,880")


def test_given_a_file_exactly_at_the_limit_when_checked_then_it_is_accepted():
    upload = encode(photo(), "PNG")

    assert check(upload, "image/png", max_bytes=len(upload)).original.body == upload


# ------------------------------------------------------------------ decompression bombs
@pytest.fixture
def decoding_spy(monkeypatch):
    """Records every attempt to decode pixels (PNG, JPEG and GIF decode through ImageFile.load)."""
    calls = []
    load = ImageFile.ImageFile.load

    def spying_load(self):
        calls.append(self.size)
        return load(self)
    monkeypatch.setattr(ImageFile.ImageFile, "load", spying_load)
    return calls


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (6_000, 5_000), (24_000_001, 1)])
def test_given_a_png_header_claiming_too_many_pixels_when_checked_then_rejected_before_decoding(
        width, height, decoding_spy):
    bomb = handmade_png(width, height)
    assert len(bomb) < 200

    started = time.perf_counter()
    rejected = rejection(bomb, "image/png")

    assert rejected.reason == "too_many_pixels"
    assert decoding_spy == [] and time.perf_counter() - started < 1


def test_given_a_header_between_pillows_warning_and_error_limits_when_our_limit_is_looser_then_too_many_pixels(
        decoding_spy):
    # 10,000 x 10,000 is over Pillow's MAX_IMAGE_PIXELS (a warning) but under twice it (the error).
    assert Image.MAX_IMAGE_PIXELS < 100_000_000 <= 2 * Image.MAX_IMAGE_PIXELS
    filters_before = list(warnings.filters)

    rejected = rejection(handmade_png(10_000, 10_000), "image/png", max_pixels=200_000_000)

    assert rejected.reason == "too_many_pixels" and decoding_spy == []
    assert warnings.filters == filters_before and Image.MAX_IMAGE_PIXELS == 89_478_485


def test_given_a_real_image_one_pixel_over_the_limit_when_checked_then_too_many_pixels():
    upload = encode(photo((64, 48)), "JPEG")

    rejected = rejection(upload, "image/jpeg", max_pixels=64 * 48 - 1)

    assert (rejected.reason, rejected.message) == ("too_many_pixels",
                                                   "the image is 64x48 pixels (3,072); the limit is 3,071")
    assert check(upload, "image/jpeg", max_pixels=64 * 48).rewritten is False


@pytest.mark.parametrize("screen", [(65_535, 65_535), (6_000, 5_000)])
def test_given_a_gif_claiming_a_huge_logical_screen_when_checked_then_too_many_pixels(screen, decoding_spy):
    rejected = rejection(handmade_gif(screen, (1, 1)), "image/gif")

    assert rejected.reason == "too_many_pixels" and decoding_spy == []


def test_given_a_gif_whose_second_frame_grows_the_canvas_when_checked_then_too_many_pixels_before_decoding_it(
        decoding_spy):
    gif = handmade_gif((1, 1), (1, 1), (6_000, 5_000))
    assert reopen(gif).size == (1, 1)

    assert rejection(gif, "image/gif").reason == "too_many_pixels"
    assert (6_000, 5_000) not in decoding_spy


def test_given_an_animation_with_too_many_frames_when_checked_then_too_many_frames():
    first, *rest = [Image.new("L", (1, 1), 255 * (i % 2)) for i in range(MAX_FRAMES + 1)]

    rejected = rejection(encode(first, "GIF", save_all=True, append_images=rest), "image/gif")

    assert (rejected.reason, rejected.message) == ("too_many_frames", "the animation has 501 frames; the limit is 500")


def test_given_an_animation_whose_frames_together_have_too_many_pixels_when_checked_then_too_many_pixels():
    upload = animation("GIF", count=6)  # 6 frames of 16x12 pixels: 192 each, 1,152 in all

    assert rejection(upload, "image/gif", max_pixels=287).reason == "too_many_pixels"  # 4 x 287 = 1,148
    assert check(upload, "image/gif", max_pixels=288).rewritten is False  # 4 x 288 = 1,152


# ------------------------------------------------------------------ damaged files
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_given_the_first_half_of_an_image_when_checked_then_corrupt(fmt):
    upload = encode(photo(), fmt)

    rejected = rejection(upload[: len(upload) // 2], TYPE_OF[fmt])

    assert rejected.reason == "corrupt"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_given_an_animated_gif_cut_in_its_last_frame_when_checked_then_corrupt():
    first, *rest = [photo((32, 24)).rotate(angle) for angle in (0, 90, 180)]
    upload = encode(first, "GIF", save_all=True, append_images=rest)

    assert rejection(upload[:-40], "image/gif").reason == "corrupt"


def test_given_a_png_with_damaged_compressed_data_when_checked_then_corrupt():
    upload = bytearray(encode(photo(), "PNG"))
    idat = upload.index(b"IDAT") + 4
    upload[idat + 2: idat + 40] = bytes(38)

    assert rejection(bytes(upload), "image/png").reason in ("corrupt", "not_an_image")


def test_given_a_png_with_a_bad_header_checksum_when_checked_then_not_accepted():
    upload = bytearray(encode(photo(), "PNG"))
    ihdr_crc = upload.index(b"IHDR") + 4 + 13
    upload[ihdr_crc] ^= 0xFF

    assert rejection(bytes(upload), "image/png").reason in ("corrupt", "not_an_image")


def test_given_a_rejection_then_it_carries_a_stable_reason_and_a_sentence():
    rejected = rejection(b"", "image/gif")

    assert (rejected.reason, rejected.message) == ("empty", "the file is empty")
    assert str(rejected) == "empty: the file is empty" and isinstance(rejected, Exception)


# ------------------------------------------------------------------ hostile bytes, generated
VALID_SMALL = {
    "png": (encode(photo((16, 12)), "PNG"), "image/png"),
    "png_alpha": (encode(Image.new("RGBA", (9, 7), (1, 2, 3, 4)), "PNG"), "image/png"),
    "apng": (animation("PNG"), "image/png"),
    "jpeg": (encode(photo((16, 12)), "JPEG"), "image/jpeg"),
    "jpeg_exif": (encode(marked((16, 12)), "JPEG", exif=gps_exif(6), comment=b"c"), "image/jpeg"),
    "progressive_jpeg": (encode(photo((16, 12)), "JPEG", progressive=True), "image/jpeg"),
    "gif": (animation("GIF", comment=b"c"), "image/gif"),
    "webp": (encode(photo((16, 12)), "WEBP"), "image/webp"),
    "animated_webp": (animation("WEBP"), "image/webp"),
}
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow])


def checked_or_rejected(data: bytes, declared_type: str) -> Checked | Rejected:
    """What `check` must always do: accept or reject. Anything else raised fails the test."""
    try:
        checked = images.check(data, declared_type, max_bytes=MAX_BYTES, max_pixels=40_000)
    except Rejected as rejected:
        assert rejected.reason in {"unsupported_type", "too_large", "empty", "not_an_image", "type_mismatch",
                                   "too_many_pixels", "too_many_frames", "corrupt"}
        assert rejected.message
        return rejected
    assert checked.original.content_type == declared_type and checked.original.width * checked.original.height > 0
    assert checked.preview.content_type == PREVIEW_TYPE and max(checked.preview.width, checked.preview.height) <= 680
    # What is stored is clean by the same rule: checked again, it is kept byte for byte.
    again = images.check(checked.original.body, declared_type, max_bytes=MAX_BYTES, max_pixels=40_000)
    assert again.rewritten is False and again.original.body == checked.original.body
    return checked


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=4096), declared_type=st.sampled_from(list(ALLOWED_TYPES)))
def test_given_arbitrary_bytes_when_checked_then_it_accepts_or_rejects_and_raises_nothing_else(data, declared_type):
    checked_or_rejected(data, declared_type)


@PROPERTY_SETTINGS
@given(sample=st.sampled_from(sorted(VALID_SMALL)),
       flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(min_value=1)))
def test_given_a_valid_image_with_bytes_flipped_when_checked_then_it_accepts_or_rejects_and_raises_nothing_else(
        sample, flips, cut):
    data, declared_type = VALID_SMALL[sample]
    mutated = bytearray(data)
    for position, value in flips:
        mutated[position % len(mutated)] = value
    if cut is not None:
        mutated = mutated[: cut % len(mutated) + 1]

    checked_or_rejected(bytes(mutated), declared_type)


@pytest.mark.parametrize("sample", sorted(VALID_SMALL))
def test_given_each_unmutated_sample_when_checked_then_it_is_accepted(sample):
    assert isinstance(checked_or_rejected(*VALID_SMALL[sample]), Checked)


@pytest.mark.parametrize("sample", sorted(VALID_SMALL))
def test_given_any_accepted_upload_when_its_original_is_checked_again_then_it_is_kept_byte_for_byte(sample):
    """What we store is clean by our own rule: a rewrite leaves nothing a second check would cut or drop."""
    data, declared_type = VALID_SMALL[sample]

    for upload in (data, data + gps_tagged_jpeg()):
        original = check(upload, declared_type).original.body
        again = check(original, declared_type)
        assert again.rewritten is False and again.original.body == original
