/* image_tiff_view.h — the first TIFF directory as Pillow's own parser reads it, before libtiff:
 * the tags Pillow checks a file against, its palette, and the copy libtiff is given when the two
 * would read a palette differently. */
#ifndef DEIT_IMAGE_TIFF_VIEW_H
#define DEIT_IMAGE_TIFF_VIEW_H

#include <stddef.h>
#include <stdint.h>

/* Pillow reads the first directory with its own parser (the last of duplicate tags wins) and
 * only then hands the file to libtiff (which keeps the first, and may read a malformed directory
 * differently); its libtiff decoder refuses a file whose size or bit depth libtiff sees
 * otherwise (TiffDecode.c: "inconsistent", unpacker row larger than the scanline). These are
 * the tags of that check, as Pillow sees them; 0: absent. */
typedef struct {
    uint64_t width, height, bps, bps_count, spp, compression, photometric;
    int has_strips, has_tiles, has_photometric;
    int be;                    /* the file's byte order */
    uint64_t photometric_at;   /* file offset of the Photometric value, photometric_size bytes */
    int photometric_size;
    /* ColorMap as stored (libtiff drops one whose count is not 3 << bps, Pillow uses it):
     * cmap_count values of cmap_size bytes each at cmap. */
    const uint8_t *cmap;
    uint64_t cmap_count;
    int cmap_size;
} pillow_tags;

/* Reads the first directory of d[len] into t, bounds-checked against len; as Pillow 9.4, a tag
 * whose data lies outside the file ends the directory (the tags after it stay 0). 0, or -1 when
 * there is no directory to read. */
int tiff_pillow_view(const uint8_t *d, size_t len, pillow_tags *t);

/* Pillow's 256-entry palette of a P / PA TIFF. DEIT_OK, or DEIT_EINVAL with a message. */
int tiff_palette(const pillow_tags *pt, uint8_t pal[256][3], char *err, size_t errlen);

/* The copy of data[len] libtiff must read for Pillow's palette semantics (malloc'd; the caller
 * frees it), or NULL when data itself is right for libtiff. */
uint8_t *tiff_libtiff_copy(const uint8_t *data, size_t len);

#endif
