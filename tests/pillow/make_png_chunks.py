#!/usr/bin/python3
"""make_png_chunks.py — PNG files with chunks before the image data that stb_image refuses and Pillow
9.4 does not mind (or minds differently), to pin the engine to what Pillow makes of each
(tests/fixtures/pillow-edge): tRNS on an image with an alpha channel, tRNS longer or shorter than
the colour type wants, a palette tRNS of more entries than the palette, an unknown critical chunk;
and Pillow's bounds on text chunks (1 MiB inflated per compressed chunk, 64 MiB kept in all).

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

MIB = 1 << 20


def ztxt(key, text, level=9):
    return chunk(b"zTXt", key + b"\0\0" + zlib.compress(text, level))


def itxt(key, text, compressed=True, lang=b"", tkey=b""):
    body = zlib.compress(text, 9) if compressed else text
    return chunk(b"iTXt", key + b"\0" + bytes([int(compressed), 0]) + lang + b"\0" + tkey + b"\0" + body)


# Pillow's text bounds (MAX_TEXT_CHUNK 1 MiB inflated per zTXt/iTXt, MAX_TEXT_MEMORY 64 MiB kept in
# all, iTXt counted in characters): several chunks each, inserted before IDAT (or, "after": after it)
MULTI = {
    "ztxt_1mib": ("RGB", [ztxt(b"Comment", b"a" * MIB)]),
    "ztxt_over_1mib": ("RGB", [ztxt(b"Comment", b"a" * (MIB + 1))]),
    "ztxt_over_1mib_nokey": ("RGB", [ztxt(b"", b"a" * (MIB + 1))]),
    "itxt_over_1mib": ("RGB", [itxt(b"Comment", b"a" * (MIB + 1))]),
    "itxt_over_1mib_method1": ("RGB", [chunk(b"iTXt", b"Comment\0\x01\x01\0\0" + zlib.compress(b"a" * (MIB + 1)))]),
    "text_64mib": ("L", [ztxt(b"k%d" % i, b"a" * MIB) for i in range(64)]),
    "text_over_64mib": ("L", [ztxt(b"k%d" % i, b"a" * MIB) for i in range(64)] + [chunk(b"tEXt", b"t\0x")]),
    "text_over_64mib_nokey": ("L", [ztxt(b"k%d" % i, b"a" * MIB) for i in range(64)] + [chunk(b"tEXt", b"\0x")]),
    # iTXt in characters: 63 MiB + 512 Ki two-byte characters + 512 KiB = 64 MiB exactly (in bytes over)
    "text_64mib_chars": ("L", [ztxt(b"k%d" % i, b"a" * MIB) for i in range(63)] +
                         [itxt(b"u", "\u00e9".encode() * (MIB // 2)), ztxt(b"h", b"a" * (MIB // 2))]),
    "text_over_64mib_chars": ("L", [ztxt(b"k%d" % i, b"a" * MIB) for i in range(63)] +
                              [itxt(b"u", "\u00e9".encode() * (MIB // 2)), ztxt(b"h", b"a" * (MIB // 2 + 1))]),
    # an iTXt that is not UTF-8 is dropped uncounted; a corrupt zTXt is kept empty
    "text_64mib_bad_utf8": ("L", [ztxt(b"k%d" % i, b"a" * MIB) for i in range(64)] +
                            [itxt(b"u", b"\xff" * 10), itxt(b"v", b"x", lang=b"\xc0\x80")]),
    "text_64mib_corrupt_ztxt": ("L", [ztxt(b"k%d" % i, b"a" * MIB) for i in range(64)] +
                                [chunk(b"zTXt", b"c\0\0" + b"\x78\x9c\xff\xff\xff")]),
    # after the image data (load_end reads these chunks too)
    "ztxt_over_1mib_after": ("RGB", "after", [ztxt(b"Comment", b"a" * (MIB + 1))]),
}


def with_chunks(mode, chunks, after=False):
    """Pillow's own PNG of the picture in mode, with framed chunks inserted before IDAT (after: IEND)."""
    buf = io.BytesIO()
    picture(mode).save(buf, "PNG")
    png = buf.getvalue()
    pos = 8
    while png[pos + 4:pos + 8] != (b"IEND" if after else b"IDAT"):
        pos += 12 + struct.unpack(">I", png[pos:pos + 4])[0]
    return png[:pos] + b"".join(chunks) + png[pos:]


def main():
    check = "--check" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--check"]
    out = args[0] if args else "tests/fixtures/pillow-edge"
    files = {name: with_chunk(mode, cid, data) for name, (mode, cid, data) in CASES.items()}
    for name, spec in MULTI.items():
        files[name] = with_chunks(spec[0], spec[-1], after=len(spec) == 3)
    for name, png in files.items():
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
