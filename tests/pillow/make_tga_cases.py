#!/usr/bin/python3
"""make_tga_cases.py — TGA files over every header field Pillow 9.4's TgaImagePlugin tells apart.

Writes one small file per case into OUTDIR (image types, depths, colormap first index / length /
entry size, orientation and attribute bits, image ID, RLE packets crossing scan lines, truncations,
bad dimensions, headers another Pillow plugin claims first); compare.py then checks the engine
against Pillow on them. --summary prints what Pillow does with each file instead.

  make_tga_cases.py OUTDIR              # the whole matrix (a few hundred files)
  make_tga_cases.py --summary OUTDIR    # Pillow's verdict per file: mode, size or the exception
  make_tga_cases.py --fixtures OUTDIR   # the few kept in tests/fixtures/pillow-edge (tga_*.tga)
"""
import hashlib
import os
import random
import struct
import sys
import warnings


def header(id_len=0, cmtype=0, itype=2, cmfirst=0, cmlen=0, cmdepth=0, w=3, h=2, depth=24,
           flags=0, xo=0, yo=0):
    return struct.pack("<BBBHHBHHHHBB", id_len, cmtype, itype, cmfirst, cmlen, cmdepth, xo, yo,
                       w, h, depth, flags)


def packet(rng, run, n, bpp):
    """One RLE packet of n pixels: a run (one random pixel repeated) or a literal (n random ones)."""
    if run:
        return bytes([0x80 | (n - 1)]) + bytes(rng.randrange(256) for _ in range(bpp))
    return bytes([n - 1]) + bytes(rng.randrange(256) for _ in range(n * bpp))


def rle_stream(rng, npix, bpp, crossing=True):
    """Packets covering npix pixels: runs and literals of up to 128 pixels, so with a narrow
    image most of them cross scan lines."""
    out = bytearray()
    left = npix
    while left > 0:
        n = min(left, rng.randint(1, 7 if not crossing else 128))
        out += packet(rng, rng.random() < 0.5, n, bpp)
        left -= n
    return bytes(out)


def rle_lines(rng, w, h, bpp, kind):
    """One packet kind per scan line: 'run' or 'lit' (no crossing), or one packet for the whole
    image of that kind (crosses lines) when kind ends in '_all'."""
    out = bytearray()
    if kind.endswith("_all"):
        n = w * h
        while n > 0:
            k = min(n, 128)
            out += packet(rng, kind.startswith("run"), k, bpp)
            n -= k
        return bytes(out)
    for _ in range(h):
        out += packet(rng, kind == "run", w, bpp)
    return bytes(out)


def cases():
    rng = random.Random(1234)

    def rb(n):
        return bytes(rng.randrange(256) for _ in range(n))

    def raw_size(depth, w, h):
        return ((w * depth + 7) // 8) * h

    # Every image type x depth x colormap type, uncompressed and RLE, with a plausible colormap.
    for itype in (0, 1, 2, 3, 4, 9, 10, 11, 12):
        for depth in (0, 1, 4, 8, 15, 16, 24, 32):
            for cmtype in (0, 1, 2):
                w, h = 5, 3
                cm = b""
                cmlen, cmdepth = 0, 0
                if cmtype:
                    cmlen, cmdepth = 7, 24
                    cm = rb(7 * 3)
                if itype & 8:
                    data = rle_stream(rng, w * h, max(1, depth // 8))
                else:
                    data = rb(raw_size(depth, w, h))
                yield (f"type{itype}_d{depth}_cm{cmtype}",
                       header(0, cmtype, itype, 0, cmlen, cmdepth, w, h, depth) + cm + data)

    # Colormapped: first index, length, entry size; indices past the end of the map.
    for itype in (1, 9):
        for cmdepth in (0, 8, 15, 16, 24, 32, 33):
            for cmfirst, cmlen in ((0, 0), (0, 1), (0, 16), (1, 4), (5, 8), (250, 6), (250, 7),
                                   (255, 1), (256, 0), (0, 256), (0, 257), (300, 2), (4, 0)):
                w, h = 4, 4
                bpe = (cmdepth + 7) // 8
                cm = rb(cmlen * bpe)
                idx = bytes([0, 1, 2, 3, 4, 5, 6, 7, 250, 251, 252, 255, 12, 13, 3, 2])
                if itype == 9:
                    data = bytes([0x83, 5, 3]) + idx[:4] + bytes([0x87, 254])
                else:
                    data = idx
                yield (f"cmap_t{itype}_e{cmdepth}_f{cmfirst}_n{cmlen}",
                       header(0, 1, itype, cmfirst, cmlen, cmdepth, w, h, 8) + cm + data)
        # a colormap on a file whose colormap type says none, and the reverse
        yield (f"cmap_t{itype}_cmtype0_with_map",
               header(0, 0, itype, 0, 4, 24, 2, 2, 8) + rb(12) + bytes([0, 1, 2, 3]) * 2)
    # Colormaps on grey and true-colour images
    for itype, depth in ((2, 24), (2, 16), (2, 32), (3, 8), (3, 16), (3, 1), (10, 24), (11, 8)):
        for cmdepth in (16, 24, 32, 8):
            bpe = (cmdepth + 7) // 8
            data = (rle_stream(rng, 6, max(1, depth // 8)) if itype & 8
                    else rb(raw_size(depth, 3, 2)))
            yield (f"cmap_on_t{itype}_d{depth}_e{cmdepth}",
                   header(0, 1, itype, 2, 3, cmdepth, 3, 2, depth) + rb(3 * bpe) + data)

    # 16-bit pixels and entries: the top (alpha) bit set and clear, every 5-bit value
    px16 = b"".join(struct.pack("<H", v) for v in
                    [0x0000, 0x7FFF, 0x8000, 0xFFFF, 0x001F, 0x03E0, 0x7C00, 0x8421, 0x1234,
                     0xABCD, 0x0001, 0x0020, 0x0400, 0x5555, 0xAAAA, 0x7BDE])
    for flags in (0, 1, 8, 0x20):
        yield f"rgb16_f{flags}", header(0, 0, 2, 0, 0, 0, 4, 4, 16, flags) + px16
        yield f"rgb15_f{flags}", header(0, 0, 2, 0, 0, 0, 4, 4, 15, flags) + px16
    yield "cmap16_alpha", header(0, 1, 1, 0, 16, 16, 4, 4, 8) + px16 + bytes(range(16))
    yield "cmap15_alpha", header(0, 1, 1, 0, 16, 15, 4, 4, 8) + px16 + bytes(range(16))
    yield "grey16", header(0, 0, 3, 0, 0, 0, 4, 4, 16) + px16
    yield "grey16_rle", header(0, 0, 11, 0, 0, 0, 4, 4, 16) + rle_stream(rng, 16, 2)

    # Orientation and attribute bits, uncompressed and RLE, each true-colour depth
    for itype, depth in ((2, 24), (2, 32), (2, 16), (3, 8), (3, 16), (1, 8), (10, 24), (10, 32),
                         (11, 8), (9, 8), (3, 1)):
        for flags in (0x00, 0x10, 0x20, 0x30, 0x08, 0x0F, 0x40, 0x80, 0xC0, 0xFF):
            w, h = 5, 3
            cm = header(0, 1, itype, 0, 256, 24, w, h, depth, flags) + rb(768) if itype in (1, 9) \
                else header(0, 0, itype, 0, 0, 0, w, h, depth, flags)
            bpp = max(1, depth // 8)
            data = rle_stream(rng, w * h, bpp) if itype & 8 else rb(raw_size(depth, w, h))
            yield f"orient_t{itype}_d{depth}_f{flags:02x}", cm + data

    # RLE: packets crossing lines (runs and literals), a packet over the end of the image,
    # bottom-up and top-down
    for depth, itype in ((24, 10), (8, 11), (32, 10), (16, 10), (16, 11), (8, 9)):
        bpp = depth // 8
        pre = header(0, 1, itype, 0, 256, 24, 3, 4, depth) + rb(768) if itype == 9 else b""
        for kind in ("run", "lit", "run_all", "lit_all"):
            for flags in (0, 0x20, 0x30):
                hd = pre or header(0, 0, itype, 0, 0, 0, 3, 4, depth, flags)
                if pre:
                    hd = header(0, 1, itype, 0, 256, 24, 3, 4, depth, flags) + pre[18:]
                yield f"rle_{kind}_t{itype}_d{depth}_f{flags:02x}", hd + rle_lines(rng, 3, 4, bpp, kind)
        hd = header(0, 0, itype, 0, 0, 0, 3, 4, depth) if not pre else pre
        # one run of 5 pixels starting 1 pixel before a line end; a literal of 5 pixels likewise
        yield (f"rle_run_cross_t{itype}_d{depth}",
               hd + bytes([0x01]) + rb(2 * bpp) + bytes([0x84]) + rb(bpp) + rle_stream(rng, 5, bpp, False))
        yield (f"rle_lit_cross_t{itype}_d{depth}",
               hd + bytes([0x01]) + rb(2 * bpp) + bytes([0x04]) + rb(5 * bpp) + rle_stream(rng, 5, bpp, False))
        # the last packet asks for more pixels than the image has left
        yield f"rle_run_past_end_t{itype}_d{depth}", hd + rle_stream(rng, 11, bpp, False) + bytes([0x83]) + rb(bpp)
        yield f"rle_lit_past_end_t{itype}_d{depth}", hd + rle_stream(rng, 11, bpp, False) + bytes([0x03]) + rb(4 * bpp)
        # stream ends early: inside a packet, between packets
        full = rle_stream(rng, 12, bpp, False)
        for cut in (1, 2, len(full) // 2, len(full) - 1):
            yield f"rle_trunc{cut}_t{itype}_d{depth}", hd + full[:cut]
        yield f"rle_empty_t{itype}_d{depth}", hd
        yield f"rle_extra_t{itype}_d{depth}", hd + full + rb(9)
    # 1-bit RLE (Pillow's packet size is depth // 8 = 0 bytes)
    yield "rle_1bit", header(0, 0, 11, 0, 0, 0, 8, 2, 1) + bytes([0x81, 0xAA, 0x00, 0x55])
    yield "rle_1bit_big", header(0, 0, 11, 0, 0, 0, 8, 2, 1) + bytes([0x81, 0xAA]) * 40

    # 1-bit uncompressed: widths around byte boundaries
    for w in (1, 7, 8, 9, 17):
        for flags in (0, 0x10, 0x20):
            yield f"bits1_w{w}_f{flags:02x}", header(0, 0, 3, 0, 0, 0, w, 3, 1, flags) + rb(((w + 7) // 8) * 3)

    # Image ID field: lengths, truncated inside it; the PCX (10), IPTC (28) collisions
    for id_len in (1, 5, 10, 28, 200, 255):
        for cmtype, itype, depth in ((0, 2, 24), (1, 1, 8), (0, 3, 8), (0, 10, 24)):
            cm = rb(9) if cmtype else b""
            hd = header(id_len, cmtype, itype, 0, 3 if cmtype else 0, 24 if cmtype else 0, 3, 2, depth)
            data = rle_stream(rng, 6, depth // 8) if itype & 8 else rb(raw_size(depth, 3, 2))
            yield f"id{id_len}_t{itype}_cm{cmtype}", hd + rb(id_len) + cm + data
            # ID data that is mostly zeros (a PCX reading would see 0 planes / bits)
            yield f"id{id_len}z_t{itype}_cm{cmtype}", hd + bytes(id_len) + cm + data
    yield "id_trunc", header(20, 0, 2, 0, 0, 0, 3, 2, 24) + rb(10)
    yield "id_nodata", header(20, 0, 2, 0, 0, 0, 3, 2, 24) + rb(20)

    # Truncations: header, colormap, pixel data
    good = header(0, 1, 1, 0, 4, 24, 3, 2, 8) + rb(12) + bytes([0, 1, 2, 3, 1, 0])
    for cut in (2, 3, 10, 17, 18, 20, 29, 30, 32, 35):
        yield f"trunc_cmap_{cut}", good[:cut]
    good = header(0, 0, 2, 0, 0, 0, 3, 2, 24) + rb(18)
    for cut in (17, 18, 19, 35, 36):
        yield f"trunc_rgb_{cut}", good[:cut]
    good = header(0, 0, 3, 0, 0, 0, 9, 2, 1) + rb(4)
    for cut in (18, 19, 21, 22):
        yield f"trunc_bits1_{cut}", good[:cut]

    # Dimensions: zero, one, large (Pillow's bomb limit, the engine's pixel limit)
    for w, h in ((0, 2), (2, 0), (0, 0), (1, 1), (65535, 1), (1, 65535), (65535, 65535),
                 (8000, 8000), (20000, 20000), (40000, 1000)):
        yield f"dims_{w}x{h}", header(0, 0, 3, 0, 0, 0, w, h, 8) + rb(64)
        yield f"dims_rle_{w}x{h}", header(0, 0, 11, 0, 0, 0, w, h, 8) + bytes([0xFF, 7]) * 8
    yield "dims_rle_65535_runs", header(0, 0, 11, 0, 0, 0, 200, 200, 8) + bytes([0xFF, 7]) * 313

    # x/y origin fields (ignored by Pillow)
    yield "origin", header(0, 0, 2, 0, 0, 0, 3, 2, 24, 0, 100, 200) + rb(18)

    # Headers another plugin is tried on before TGA
    yield "cur_like", header(0, 0, 2, 0, 0, 0, 3, 2, 24) + rb(18)               # \0\0\2\0
    yield "cur_like_count", header(0, 0, 2, 0x0100, 0, 0, 3, 2, 24) + rb(18)    # CUR with 1 entry
    yield "ico_like", header(0, 0, 1, 0, 0, 0, 3, 2, 8) + rb(6)                 # \0\0\1\0
    yield "ico_like_cm", header(0, 0, 1, 0, 2, 24, 3, 2, 8) + rb(6)
    yield "mpeg_like", header(0, 0, 1, 0xB3, 0, 0, 3, 2, 8) + rb(6)             # \0\0\1\xb3
    yield "iptc_like", header(0x1C, 1, 1, 0, 2, 24, 3, 2, 8) + rb(28 + 6 + 6)
    yield "pcx_like_short", header(10, 0, 2, 0, 0, 0, 3, 2, 24) + rb(10 + 18)
    yield "pcx_like_long", header(10, 0, 2, 0, 0, 0, 8, 8, 24) + rb(10 + 192)
    yield "pcx_like_bits8", header(10, 0, 2, 8, 0, 0, 8, 8, 24) + bytes(10) + rb(192)
    yield "pcx_like_v5_1bit", header(10, 0, 3, 1, 0, 0, 8, 8, 8) + rb(10) + rb(64)
    yield "pcx_like_cm0", header(10, 0, 1, 0, 0, 0, 8, 8, 8) + rb(10) + rb(64)
    yield "fli_like", header(0, 1, 1, 0x1100, 0x00AF, 24, 3, 3, 8) + rb(0xAF * 3) + rb(9)
    yield "gbr_like", header(20, 0, 2, 0, 0, 1, 3, 2, 24) + rb(20 + 18)


def fixtures():
    """One small file per behaviour the engine once got wrong (stb_image's TGA)."""
    g8 = bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    pal = bytes(range(40, 40 + 24))  # 8 BGR entries
    # colormap starting at index 5: indices below it black, past its end Pillow's grey ramp
    yield "cmap_first5", header(0, 1, 1, 5, 8, 24, 4, 4, 8) + pal + g8
    yield "cmap_past_end", header(0, 1, 1, 0, 4, 24, 4, 4, 8) + pal[:12] + bytes(range(0, 256, 16))
    # 16-bit entries from index 1, attribute bit set on some: BGR;15, the bit ignored
    yield "cmap16", header(0, 1, 9, 1, 4, 16, 4, 2, 8, 0x20) + bytes(
        [0x1F, 0x80, 0xE0, 0x03, 0x00, 0xFC, 0x21, 0x84]) + bytes([0x83, 1, 0x03, 0, 2, 3, 4])
    # (the trailing bytes are there for stb_image, which skipped the first index as bytes)
    yield "cmap_too_long", header(0, 1, 1, 250, 7, 24, 2, 2, 8) + bytes(21) + bytes(300)
    yield "cmap32", header(0, 1, 1, 0, 2, 32, 2, 2, 8) + bytes(8) + bytes([0, 1, 1, 0])
    # 15-bit entries: no palette, and the map is not skipped (its bytes are the pixels)
    yield "cmap_entry15", header(0, 1, 1, 0, 2, 15, 2, 2, 8) + bytes([9, 80, 160, 250]) + bytes(4)
    # colormap type 0 with map fields set: nothing skipped
    yield "cmap_type0_fields", header(0, 0, 1, 0, 4, 24, 2, 2, 8) + bytes([7, 70, 140, 210]) * 4
    # L and LA with a colormap: RGB looks the palette up, L keeps the values (LA: luma)
    yield "grey_cmap", header(0, 1, 3, 0, 4, 24, 4, 1, 8) + bytes(
        [10, 20, 30, 200, 100, 50, 0, 255, 0, 9, 9, 9]) + bytes([0, 1, 2, 3])
    yield "grey_alpha_cmap", header(0, 1, 3, 1, 3, 16, 4, 1, 16) + bytes(
        [0x1F, 0x00, 0xE0, 0x83, 0x00, 0x7C]) + bytes([0, 9, 1, 0, 2, 255, 3, 1])
    yield "rgb_cmap", header(0, 1, 2, 0, 1, 24, 2, 1, 24) + bytes(3) + bytes(6)
    # 1-bit: MSB first, lines padded to bytes, bottom-up; its RLE never fills a line
    yield "bits1", header(0, 0, 3, 0, 0, 0, 9, 3, 1) + bytes([0xA5, 0x80, 0x0F, 0x00, 0xFF, 0x7F])
    yield "bits1_mirrored", header(0, 0, 3, 0, 0, 0, 9, 2, 1, 0x30) + bytes([0xC1, 0x80, 0x00, 0x80])
    yield "bits1_rle", header(0, 0, 11, 0, 0, 0, 8, 2, 1) + bytes([0x81, 0xAA, 0x00, 0x55])
    # RLE: runs may not cross a scan line, literals may (and run past the image's end)
    yield "rle_run_crossing", header(0, 0, 10, 0, 0, 0, 3, 2, 24) + bytes([0x01]) + bytes(
        range(6)) + bytes([0x83, 9, 8, 7])
    yield "rle_literal_crossing", header(0, 0, 10, 0, 0, 0, 3, 3, 24, 0x10) + bytes(
        [0x00, 1, 2, 3, 0x06]) + bytes(range(100, 121)) + bytes([0x80, 50, 60, 70])
    yield "rle_literal_past_end", header(0, 0, 11, 0, 0, 0, 3, 2, 8) + bytes([0x08]) + bytes(range(9))
    yield "rle_truncated", header(0, 0, 10, 0, 0, 0, 3, 2, 24) + bytes([0x82, 1, 2, 3, 0x02, 1, 2])
    # headers Pillow opens but cannot load, or does not take as TGA at all
    yield "type_depth_mismatch", header(0, 0, 2, 0, 0, 0, 2, 2, 8) + bytes(4)
    yield "depth15", header(0, 0, 2, 0, 0, 0, 2, 1, 15) + bytes(4)
    yield "pcx_id10", header(10, 0, 2, 0, 0, 0, 4, 4, 24) + bytes(10) + bytes(range(48))
    yield "mpeg_signature", header(0, 0, 1, 0xB3, 0x0110, 24, 2, 2, 8) + bytes(4)
    yield "iptc_id28", header(0x1C, 1, 1, 200, 1, 24, 2, 1, 8) + bytes(range(28)) + bytes(300)
    # ICO signature with an empty directory: Pillow's ICO plugin passes, TGA opens it
    yield "ico_empty_dir", header(0, 0, 1, 0, 0, 0, 2, 2, 8) + bytes([3, 100, 200, 255])


def summary(folder):
    from PIL import Image
    warnings.simplefilter("ignore")
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        try:
            with Image.open(path) as im:
                fmt, mode, size = im.format, im.mode, im.size
                rgb = im.convert("RGB").tobytes()
                im.convert("L")
            print(f"{name}\tOK {fmt} {mode} {size[0]}x{size[1]} rgb:{hashlib.sha1(rgb).hexdigest()[:8]}")
        except Exception as e:
            print(f"{name}\t{type(e).__name__}: {str(e)[:70]}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--summary":
        summary(sys.argv[2])
        return
    make = cases
    if len(sys.argv) == 3 and sys.argv[1] == "--fixtures":
        make = fixtures
        del sys.argv[1]
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seen = set()
    for name, data in make():
        assert name not in seen, name
        seen.add(name)
        with open(os.path.join(out, f"tga_{name}.tga"), "wb") as f:
            f.write(data)
    print(f"{len(seen)} files in {out}")


if __name__ == "__main__":
    main()
