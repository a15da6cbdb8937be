#!/usr/bin/python3
"""make_png_chunks.py — PNG files with chunks before the image data that stb_image refuses and Pillow
9.4 does not mind (or minds differently), to pin the engine to what Pillow makes of each
(tests/fixtures/pillow-edge): tRNS on an image with an alpha channel, tRNS longer or shorter than
the colour type wants, a palette tRNS of more entries than the palette, an unknown critical chunk.

  make_png_chunks.py [--check] [OUTDIR]     (default tests/fixtures/pillow-edge)

Writes png_chunk_<case>.png and prints what Pillow does with each (Image.open + convert('RGB')):
"opens" or the exception. --check only prints, writing nothing.
"""
import io
import os
import struct
import sys
import zlib

from PIL import Image

W, H = 11, 7


def chunk(cid, data):
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))


def picture(mode):
    """A deterministic W x H picture in mode with every sample varying."""
    im = Image.new("RGBA", (W, H))
    im.putdata([((x * 23 + y * 7) % 256, (x * y * 5 + 40) % 256, (x * 3 + y * 29) % 256, (x * 17 + y * 31) % 256)
                for y in range(H) for x in range(W)])
    if mode == "P":
        return im.convert("RGB").quantize(colors=9)
    return im.convert(mode)


def with_chunk(mode, cid, data):
    """Pillow's own PNG of the picture in mode, with chunk cid (data) inserted just before IDAT."""
    buf = io.BytesIO()
    picture(mode).save(buf, "PNG")
    png = buf.getvalue()
    pos = 8
    while png[pos + 4:pos + 8] != b"IDAT":
        pos += 12 + struct.unpack(">I", png[pos:pos + 4])[0]
    return png[:pos] + chunk(cid, data) + png[pos:]


CASES = {
    # tRNS where the colour type has an alpha channel: libpng warns, stb refuses, Pillow ignores it
    "trns_rgba": ("RGBA", b"tRNS", b"\x00\x10\x00\x20\x00\x30"),
    "trns_la": ("LA", b"tRNS", b"\x00\x10"),
    # longer than the colour type's: Pillow reads what it needs
    "trns_rgb_long": ("RGB", b"tRNS", b"\x00\x10\x00\x20\x00\x30\x00\x40"),
    "trns_l_long": ("L", b"tRNS", b"\x00\x10\x00\x20"),
    # shorter: Pillow cannot read the colour and refuses the file
    "trns_rgb_short": ("RGB", b"tRNS", b"\x00\x10\x00\x20"),
    "trns_l_short": ("L", b"tRNS", b"\x10"),
    # a palette tRNS of more entries than the palette has (and than 256)
    "trns_p_long": ("P", b"tRNS", bytes(range(255, 0, -1)) + bytes(40)),
    # a critical chunk no decoder knows (upper-case first letter): Pillow skips it
    "unknown_critical": ("RGB", b"ZZZZ", b"whatever"),
}


def main():
    check = "--check" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--check"]
    out = args[0] if args else "tests/fixtures/pillow-edge"
    for name, (mode, cid, data) in CASES.items():
        png = with_chunk(mode, cid, data)
        try:
            Image.open(io.BytesIO(png)).convert("RGB")
            what = "opens"
        except Exception as e:  # what Pillow says is the point
            what = f"{type(e).__name__}: {e}"
        print(f"png_chunk_{name}.png: {what}")
        if not check:
            with open(os.path.join(out, f"png_chunk_{name}.png"), "wb") as f:
                f.write(png)


if __name__ == "__main__":
    main()
