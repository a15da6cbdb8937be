#!/usr/bin/python3
"""make_png_metadata.py — PNG files whose orientation metadata comes twice, to pin the engine to
Pillow 9.4's rule: PngStream stores each chunk in the image's info under a key, a later chunk
overwriting an earlier one, so the last eXIf, the last "Raw profile type exif" text (tEXt or zTXt)
and the last XMP text (iTXt or tEXt) count; an iTXt chunk Pillow drops (text not UTF-8, a corrupt
stream, a compression method other than 0) leaves the earlier one, and a corrupt zTXt empties its
text (tests/fixtures/pillow-edge, compared by tests/pillow/run.sh with ?exif_transpose).

  make_png_metadata.py [--check] [OUTDIR]     (default tests/fixtures/pillow-edge)

Writes png_meta_<case>.png and prints the orientation Pillow reads from each (Image.getexif after
load); --check only prints, writing nothing.
"""
import io
import os
import struct
import sys
import zlib

from PIL import Image

W, H = 6, 3  # not square, and every pixel different: each of the 8 orientations gives other bytes


def chunk(cid, data):
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))


def exif(o):
    """A little-endian EXIF block with one entry, Orientation = o (SHORT)."""
    return b"II*\0" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, o, 0) + struct.pack("<I", 0)


def raw_profile(o):
    """ImageMagick's "Raw profile type exif" text: a blank line, "exif", the length, then hex."""
    block = b"Exif\0\0" + exif(o)
    return ("\nexif\n%8d\n" % len(block)).encode() + block.hex().encode() + b"\n"


def xmp(o):
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description tiff:Orientation="%d"/>'
            "</rdf:RDF></x:xmpmeta>" % o).encode()


RAW, XMP = b"Raw profile type exif\0", b"XML:com.adobe.xmp\0"
CASES = {
    "two_exif_3_6": [(b"eXIf", exif(3)), (b"eXIf", exif(6))],
    "two_raw_3_6": [(b"tEXt", RAW + raw_profile(3)), (b"tEXt", RAW + raw_profile(6))],
    "raw_text_then_ztxt": [(b"tEXt", RAW + raw_profile(3)), (b"zTXt", RAW + b"\0" + zlib.compress(raw_profile(6)))],
    "raw_then_corrupt_ztxt": [(b"tEXt", RAW + raw_profile(6)), (b"zTXt", RAW + b"\0" + b"\x78\x9c\xff\xff\xff")],
    "exif_then_raw": [(b"eXIf", exif(8)), (b"tEXt", RAW + raw_profile(6))],
    "two_xmp_text": [(b"tEXt", XMP + xmp(3)), (b"tEXt", XMP + xmp(6))],
    "xmp_text_then_itxt": [(b"tEXt", XMP + xmp(3)), (b"iTXt", XMP + b"\0\0\0\0" + xmp(6))],
    "xmp_then_itxt_not_utf8": [(b"tEXt", XMP + xmp(3)), (b"iTXt", XMP + b"\0\0\0\0" + xmp(6) + b"\xff")],
    "xmp_then_itxt_corrupt": [(b"tEXt", XMP + xmp(3)), (b"iTXt", XMP + b"\1\0\0\0" + b"\x78\x9c\xff\xff\xff")],
    "xmp_then_itxt_method1": [(b"tEXt", XMP + xmp(3)), (b"iTXt", XMP + b"\1\1\0\0" + zlib.compress(xmp(6)))],
    "xmp_then_itxt_compressed": [(b"iTXt", XMP + b"\0\0\0\0" + xmp(3)), (b"iTXt", XMP + b"\1\0\0\0" + zlib.compress(xmp(6)))],
}


def png(extra):
    im = Image.new("RGB", (W, H))
    im.putdata([(40 * x, 80 * y, 10 + 30 * x + 60 * y) for y in range(H) for x in range(W)])
    buf = io.BytesIO()
    im.save(buf, "PNG")
    data = buf.getvalue()
    at = data.index(b"IDAT") - 4  # the metadata before the image data, as most writers put it
    return data[:at] + b"".join(chunk(cid, body) for cid, body in extra) + data[at:]


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    out = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "fixtures", "pillow-edge")
    for name, extra in CASES.items():
        data = png(extra)
        im = Image.open(io.BytesIO(data))
        im.load()
        print("png_meta_%s.png: orientation %s" % (name, im.getexif().get(0x0112)))
        if not check:
            with open(os.path.join(out, "png_meta_%s.png" % name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
