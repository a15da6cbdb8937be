#!/usr/bin/python3
"""make_png_stream.py — PNG files whose compressed image data (the IDAT zlib stream) is cut, padded,
split or damaged, to pin the engine to what Pillow 9.4 makes of each (tests/fixtures/pillow-edge).

  make_png_stream.py [--check] [OUTDIR]     (default tests/fixtures/pillow-edge)

Writes png_<layout>_<kind>.png for several kinds (grey, RGB, 4-bit palette, 16-bit grey, each also
Adam7-interlaced) and prints what Pillow does with each (Image.open + convert('RGB'), default
settings): "opens" or the exception. --check only prints, writing nothing.
"""
import io
import os
import struct
import sys
import zlib

from PIL import Image

W, H = 13, 9  # odd sizes: Adam7 passes of different, partly empty shapes


def chunk(cid, data):
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))


def picture(mode):
    """A deterministic W x H picture in mode with every sample varying."""
    im = Image.new("RGB", (W, H))
    im.putdata([((x * 19 + y * 7) % 256, (x * y * 5 + 40) % 256, (x * 3 + y * 29) % 256)
                for y in range(H) for x in range(W)])
    if mode == "P":
        return im.quantize(colors=12)
    if mode == "I;16":
        g = Image.new("I", (W, H))
        g.putdata([(x * 4111 + y * 577) % 65536 for y in range(H) for x in range(W)])
        return g.convert("I;16")
    return im.convert(mode)


# kind: (Pillow mode, PNG raw mode for the packed rows, bits per pixel)
KINDS = {"l": ("L", "L", 8), "rgb": ("RGB", "RGB", 24), "p4": ("P", "P;4", 4),
         "i16": ("I;16", "I;16B", 16)}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]  # (x0, y0, dx, dy) per pass


def saved(kind):
    """Pillow's own PNG of the picture: (head chunks before IDAT as bytes, zlib stream, tail)."""
    buf = io.BytesIO()
    picture(KINDS[kind][0]).save(buf, "PNG")
    return split(buf.getvalue())


def split(png):
    pos, head, idat, tail = 8, b"", b"", b""
    while pos < len(png):
        n = struct.unpack(">I", png[pos:pos + 4])[0]
        cid, whole = png[pos + 4:pos + 8], png[pos:pos + 12 + n]
        if cid == b"IDAT":
            idat += png[pos + 8:pos + 8 + n]
        elif idat:
            tail += whole
        else:
            head += whole
        pos += 12 + n
    return head, idat, tail


def filtered_rows(kind, interlaced):
    """The filtered scan lines (filter type 0) of the picture, Adam7 passes in order if asked."""
    mode, raw, _ = KINDS[kind]
    im = picture(mode)
    passes = ADAM7 if interlaced else [(0, 0, 1, 1)]
    rows = []
    for x0, y0, dx, dy in passes:
        xs, ys = range(x0, W, dx), range(y0, H, dy)
        if not xs or not ys:
            continue
        sub = Image.new(im.mode, (len(xs), len(ys)))
        if mode == "P":
            sub.putpalette(im.getpalette())
        sub.putdata([im.getpixel((x, y)) for y in ys for x in xs])
        data = sub.tobytes("raw", raw)
        stride = len(data) // len(ys)
        rows += [b"\0" + data[i * stride:(i + 1) * stride] for i in range(len(ys))]
    return rows


def header(kind, interlaced, method=None, compression=0):
    """IHDR (and PLTE for the palette kind) for our own encoding of the picture."""
    head, _, _ = saved(kind)
    ihdr = bytearray(head[8:21])
    ihdr[12] = (1 if method is None else method) if interlaced else 0
    ihdr[10] = compression
    return chunk(b"IHDR", bytes(ihdr)) + head[25:]


def png(head, pieces, tail=b""):
    """A PNG from head chunks, one IDAT per piece of zlib data, then tail (IEND unless given)."""
    return (b"\x89PNG\r\n\x1a\n" + head + b"".join(chunk(b"IDAT", p) for p in pieces)
            + (chunk(b"IEND", b"") if tail is None else tail))


def deflate(data, finish=True):
    c = zlib.compressobj(9)
    return c.compress(data) + (c.flush() if finish else c.flush(zlib.Z_SYNC_FLUSH))


def cases(kind, interlaced):
    """(name, file bytes) for one kind; each case says why it is there."""
    head = header(kind, interlaced)
    rows = filtered_rows(kind, interlaced)
    raw = b"".join(rows)
    z = deflate(raw)
    bad_adler = z[:-4] + bytes(b ^ 0x5A for b in z[-4:])
    half = len(raw) // 2
    text = chunk(b"tEXt", b"Comment\0between")
    iend = chunk(b"IEND", b"")
    yield "whole", png(head, [z], iend)                        # the control: everyone opens it
    yield "noiend", png(head, [z], b"")                        # cut after the last IDAT
    yield "cut_text", png(head, [z], text[:-6])                # cut inside a chunk after IDAT
    yield "cut_hdr", png(head, [z], text[:6])                  # cut inside the next chunk's header
    yield "noadler", png(head, [z[:-4]], iend)                 # final block, no adler32
    yield "nofinal", png(head, [deflate(raw, finish=False)], iend)  # no final block at all
    yield "badadler", png(head, [bad_adler], iend)             # adler32 wrong, same IDAT
    yield "badadler_split", png(head, [bad_adler[:-4], bad_adler[-4:]], iend)  # own IDAT
    yield "extra", png(head, [deflate(raw + rows[-1] * 3)], iend)  # more rows than the image
    yield "short_end", png(head, [deflate(b"".join(rows[:len(rows) // 2]))], iend)  # ends early
    yield "cut_rows", png(head, [z[:len(z) // 2]], b"")        # file cut before all rows
    yield "text_between", png(head, [z[:-4]], text + chunk(b"IDAT", z[-4:]) + iend)
    yield "text_between_need", png(head, [z[:len(z) // 2]], text + chunk(b"IDAT", z[len(z) // 2:])
                                   + iend)
    yield "empty_idat", png(head, [z[:half // 3], b"", z[half // 3:]], iend)
    # FDICT set: zlib wants a preset dictionary (Z_NEED_DICT, not an error) and never goes on
    yield "dict", png(head, [bytes([0x78, 0x20 | (31 - (0x7820 % 31)) % 31]) + b"\0\0\0\1" + z[2:]],
                      iend)
    yield "cut_adler", png(head, [z], b"")[:-6]               # cut inside the adler32
    yield "cut_idat2", png(head, [z[:-4]], chunk(b"IDAT", z[-4:] + b"more")[:-6])  # next IDAT cut
    yield "window", png(head, [bytes([0x88, (31 - 0x8800 % 31) % 31]) + z[2:]], iend)  # CINFO 8
    yield "garbage", png(head, [z + b"\x00garbage"], iend)    # bytes after the zlib stream
    # IHDR bytes Pillow does not check: compression method, interlace method 2 (taken as Adam7)
    yield "ihdr_comp1", png(header(kind, interlaced, compression=1), [z], iend)
    if interlaced:
        yield "ihdr_interlace2", png(header(kind, interlaced, method=2), [z], iend)


# Which kinds get which cases: all of them for 8-bit RGB and interlaced RGB; the structural ones
# (IEND, cut, rows) for the rest, to keep the folder small.
ALL = ["whole", "noiend", "cut_text", "cut_hdr", "noadler", "nofinal", "badadler",
       "badadler_split", "extra", "short_end", "cut_rows", "text_between", "text_between_need",
       "empty_idat", "cut_adler", "cut_idat2", "window", "garbage",
       "ihdr_comp1", "ihdr_interlace2", "dict"]
SOME = ["noiend", "nofinal", "noadler", "badadler", "extra", "short_end", "cut_rows",
        "text_between", "text_between_need"]
PLAN = [("rgb", 0, ALL), ("rgb", 1, ALL), ("l", 0, SOME), ("l", 1, SOME), ("p4", 0, SOME),
        ("p4", 1, SOME), ("i16", 0, SOME), ("i16", 1, SOME)]


def pillow_says(data):
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB")
        return "opens"
    except Exception as e:  # what Pillow raises is the point
        return f"{type(e).__name__}: {e}"


def main():
    check = "--check" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--check"]
    out = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "fixtures",
                                            "pillow-edge")
    for kind, interlaced, names in PLAN:
        for name, data in cases(kind, interlaced):
            if name not in names:
                continue
            fn = f"png_{name}_{kind}{'_adam7' if interlaced else ''}.png"
            print(f"{fn}\t{len(data)}\t{pillow_says(data)}")
            if not check:
                with open(os.path.join(out, fn), "wb") as f:
                    f.write(data)


if __name__ == "__main__":
    main()
