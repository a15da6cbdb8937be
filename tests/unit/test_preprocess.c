/* test_preprocess.c — decoders, Pillow and torchvision resize and timm/HF preprocessing against the
 * reference crops byte for byte, the HF pipeline against pixel_values bit for bit, hostile inputs. */
#include <stdint.h>
#include <stdio.h>
#include <jpeglib.h>

#include "../check.h"
#include "fixture_io.h"
#include "image.h"
#include "preprocess.h"
#include "safetensors.h"

#define IMG_DIR "tests/fixtures/images/"
#define MAXPIX ((size_t)50 * 1000 * 1000)

static const char *const images[] = {
    "astronaut.png", "camera.png", "chelsea.bmp", "chelsea.png", "chelsea_palette.gif",
    "chelsea_palette.png", "chelsea_progressive.jpg", "chelsea_q60_420.jpg", "chelsea_q95_444.jpg",
    "coffee.png", "gradient_rgba.png", "horse.png", "logo.png", "rocket.jpg", "tall_90x1200.png",
    "tiny_7x5.png",
};
#define N_IMAGES (sizeof images / sizeof images[0])

static uint8_t *slurp_image(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, IMG_DIR "%s", name);
    uint8_t *b = slurp(path, len);
    CHECK_MSG(b != NULL, "cannot read %s", path);
    return b;
}

/* The reference transforms. */
static deit_preproc pp_timm(int size, int short_side)
{
    deit_preproc p = {0};
    p.channels = 3;
    p.resize = RESIZE_SHORTEST_SIDE;
    p.resize_short = short_side;
    p.crop_w = p.crop_h = size;
    p.do_resize = p.do_crop = 1;
    p.interp = INTERP_BICUBIC;
    p.resampler = RESAMPLE_PILLOW;
    p.crop_rule = CROP_TORCHVISION;
    p.rescale = 1.0f / 255.0f;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(p.mean, mean, sizeof mean);
    memcpy(p.std, std, sizeof std);
    p.norm = NORM_TORCHVISION;
    return p;
}

/* hf-deit-reduced's processor: 256x256, crop 224, mean/std 0.5. The fixture crops come from the
 * slow (Pillow) processor, pixel_values from the fast (torchvision) one. */
static deit_preproc pp_hf(resample_impl resampler)
{
    deit_preproc p = pp_timm(224, 0);
    p.resize = RESIZE_EXACT;
    p.resize_w = p.resize_h = 256;
    for (int c = 0; c < 3; c++) p.mean[c] = p.std[c] = 0.5f;
    p.resampler = resampler;
    p.crop_rule = resampler == RESAMPLE_PILLOW ? CROP_HF_SLOW : CROP_HF_FAST;
    p.norm = NORM_HF_FUSED;
    return p;
}

/* ---- golden crops -------------------------------------------------------------------------- */

/* Returns 1 when the fixture holds this crop and it was compared, 0 when the fixture lacks it. */
static int check_crop(const st_file *refs, const char *transform, const char *name,
                      const deit_preproc *pp)
{
    char key[256], err[256] = "";
    snprintf(key, sizeof key, "crop/%s/%s", transform, name);
    const st_tensor *t = st_find(refs, key);
    if (!t) return 0;  /* timm384 has three images only */
    size_t len;
    uint8_t *data = slurp_image(name, &len);
    deit_image crop;
    float *px = malloc(sizeof(float) * 3 * pp->crop_w * pp->crop_h);
    int rc = preprocess_encoded(pp, data, len, MAXPIX, px, &crop, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s: %s", key, err);
    if (rc == DEIT_OK) {
        CHECK_MSG(t->dtype == ST_U8 && t->ndim == 3 && t->shape[0] == crop.height &&
                  t->shape[1] == crop.width && t->shape[2] == 3,
                  "%s: shape %dx%d vs reference", key, crop.width, crop.height);
        if (t->nbytes == (size_t)crop.width * crop.height * 3) {
            int maxd = 0;
            size_t ndiff = 0;
            for (size_t i = 0; i < t->nbytes; i++) {
                int d = abs((int)crop.pixels[i] - (int)t->data[i]);
                if (d) ndiff++;
                if (d > maxd) maxd = d;
            }
            CHECK_MSG(ndiff == 0, "%s: %zu bytes differ, max abs diff %d", key, ndiff, maxd);
        }
        /* Layout [c][y][x] and the torchvision rounding, spot-checked at a corner. */
        if (pp->norm == NORM_TORCHVISION) {
            size_t plane = (size_t)crop.width * crop.height, i = plane - 1;
            for (int c = 0; c < 3; c++) {
                float want = ((float)crop.pixels[i * 3 + c] / 255.0f - pp->mean[c]) / pp->std[c];
                CHECK_MSG(px[c * plane + i] == want, "%s: normalised value c=%d", key, c);
            }
        }
    }
    image_free(&crop);
    free(px);
    free(data);
    return 1;
}

static void test_golden_crops(void)
{
    char err[512] = "";
    st_file *refs = NULL;
    int rc = st_open("tests/fixtures/refs-small.safetensors", &refs, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "refs-small: %s", err);
    if (rc != DEIT_OK) return;
    /* crop/hf-deit-reduced is the slow processor's: Pillow, chosen explicitly (HF models default
     * to the torchvision resampler, checked against pixel_values below). */
    deit_preproc t224 = pp_timm(224, 248), t384 = pp_timm(384, 384), hf = pp_hf(RESAMPLE_PILLOW);
    int compared = 0, in_fixture = 0;
    for (size_t i = 0; i < N_IMAGES; i++) {
        compared += check_crop(refs, "timm224_crop0.9_bicubic_center", images[i], &t224);
        compared += check_crop(refs, "timm384_crop1.0_bicubic_center", images[i], &t384);
        compared += check_crop(refs, "hf-deit-reduced", images[i], &hf);
    }
    for (size_t i = 0; i < st_count(refs); i++)
        in_fixture += strncmp(st_at(refs, i)->name, "crop/", 5) == 0;
    /* every reference crop in the fixture was compared (a name missing from images[] or a
     * misspelt transform would leave one out), and the fixture still holds all of them */
    CHECK_INT_EQ(compared, in_fixture);
    CHECK_INT_EQ(in_fixture, 2 * N_IMAGES + 3);
    st_close(refs);
}

/* The whole HF pipeline as the model uses it (torchvision resize, fast centre crop, fused
 * normalisation) must give pixel_values bit for bit, every float of every image. To show the check
 * can fail, the Pillow resampler and the torchvision normalisation rounding must each differ from
 * pixel_values somewhere. */
static void test_hf_pixel_values(void)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/refs.safetensors", shared_fixtures());
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        printf("test_preprocess: skipped: HF pixel_values check (%s not found)\n", path);
        return;
    }
    fclose(probe);
    st_file *refs = NULL;
    int rc = st_open(path, &refs, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s: %s", path, err);
    if (rc != DEIT_OK) return;
    deit_preproc hf = pp_hf(RESAMPLE_TORCHVISION), hf_pil = pp_hf(RESAMPLE_PILLOW), hf_tv = hf;
    hf_tv.norm = NORM_TORCHVISION;
    size_t n = (size_t)3 * 224 * 224;
    float *ours = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
    float *pil = malloc(n * sizeof(float)), *tv = malloc(n * sizeof(float));
    size_t total = 0, pil_diff = 0, tv_diff = 0;
    for (size_t i = 0; i < N_IMAGES; i++) {
        char key[256];
        snprintf(key, sizeof key, "hf-deit-reduced/%s/pixel_values", images[i]);
        const st_tensor *t = st_find(refs, key);
        CHECK_MSG(t && t->dtype == ST_F32 && t->numel == n, "%s missing", key);
        if (!t || t->dtype != ST_F32 || t->numel != n) continue;
        st_to_f32(t, ref);
        size_t len;
        uint8_t *data = slurp_image(images[i], &len);
        rc = preprocess_encoded(&hf, data, len, MAXPIX, ours, NULL, err, sizeof err);
        CHECK_MSG(rc == DEIT_OK, "%s: %s", key, err);
        if (rc == DEIT_OK) rc = preprocess_encoded(&hf_pil, data, len, MAXPIX, pil, NULL, err, sizeof err);
        if (rc == DEIT_OK) rc = preprocess_encoded(&hf_tv, data, len, MAXPIX, tv, NULL, err, sizeof err);
        CHECK_MSG(rc == DEIT_OK, "%s: %s", key, err);
        free(data);
        if (rc != DEIT_OK) continue;
        size_t bad = 0;
        for (size_t j = 0; j < n; j++) {
            bad += memcmp(&ours[j], &ref[j], sizeof(float)) != 0;
            pil_diff += memcmp(&pil[j], &ref[j], sizeof(float)) != 0;
            tv_diff += memcmp(&tv[j], &ref[j], sizeof(float)) != 0;
        }
        CHECK_MSG(bad == 0, "%s: %zu of %zu floats differ from pixel_values", key, bad, n);
        total += n - bad;
    }
    printf("test_preprocess: HF pixel_values: %zu floats bit-exact; with Pillow's resampler %zu "
           "would differ, with torchvision's normalisation rounding %zu\n", total, pil_diff, tv_diff);
    CHECK(pil_diff > 0);  /* the two resamplers are really different */
    CHECK(tv_diff > 0);   /* and so are the two norm modes */
    free(ours); free(ref); free(pil); free(tv);
    st_close(refs);
}

/* torchvision's resampler where it departs from Pillow's by construction. */
static void test_torchvision_resize(void)
{
    char err[256];
    uint8_t px[4] = {1, 2, 3, 4};
    deit_image src = {2, 2, 1, px}, dst;
    /* NEAREST: floor(o * in / out), no half-pixel offset. 2 -> 3 rows: floor(o * 0.667f) =
     * 0, 0, 1; 2 -> 4 columns: 0, 0, 1, 1. (Pillow's centres give rows 0, 1, 1.) */
    CHECK_INT_EQ(image_resize_with(&src, 4, 3, INTERP_NEAREST, RESAMPLE_TORCHVISION, &dst, err,
                                   sizeof err), DEIT_OK);
    const uint8_t want[12] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4};
    CHECK(dst.pixels && memcmp(dst.pixels, want, 12) == 0);
    image_free(&dst);
    /* 5 -> 3: floor(o * 1.6666666f) = 0, 1, 3 (Pillow: 0, 2, 4). */
    uint8_t row[5] = {10, 20, 30, 40, 50};
    deit_image r5 = {5, 1, 1, row};
    CHECK_INT_EQ(image_resize_with(&r5, 3, 1, INTERP_NEAREST, RESAMPLE_TORCHVISION, &dst, err,
                                   sizeof err), DEIT_OK);
    CHECK(dst.pixels && dst.pixels[0] == 10 && dst.pixels[1] == 20 && dst.pixels[2] == 40);
    image_free(&dst);
    CHECK_INT_EQ(image_resize_with(&r5, 3, 1, INTERP_NEAREST, RESAMPLE_PILLOW, &dst, err, sizeof err),
                 DEIT_OK);
    CHECK(dst.pixels && dst.pixels[0] == 10 && dst.pixels[1] == 30 && dst.pixels[2] == 50);
    image_free(&dst);

    /* A constant image stays constant through either resampler, up or down, both filters. */
    uint8_t flat[7 * 5 * 3];
    memset(flat, 77, sizeof flat);
    deit_image f = {7, 5, 3, flat};
    const int sizes[][2] = {{256, 256}, {3, 2}, {7, 300}};
    for (int k = 0; k < 3; k++) {
        for (int m = 0; m < 2; m++) {
            interp_mode mode = m ? INTERP_BILINEAR : INTERP_BICUBIC;
            CHECK_INT_EQ(image_resize_with(&f, sizes[k][0], sizes[k][1], mode, RESAMPLE_TORCHVISION,
                                           &dst, err, sizeof err), DEIT_OK);
            size_t off = 0;
            for (size_t i = 0; dst.pixels && i < (size_t)dst.width * dst.height * 3; i++)
                off += dst.pixels[i] != 77;
            CHECK_MSG(dst.pixels && off == 0, "constant %dx%d mode %d: %zu bytes moved", sizes[k][0],
                      sizes[k][1], (int)mode, off);
            image_free(&dst);
        }
    }
    CHECK_INT_EQ(image_resize_with(&f, 3, 3, INTERP_BICUBIC, (resample_impl)7, &dst, err, sizeof err),
                 DEIT_EINVAL);
    CHECK(dst.pixels == NULL);
}

/* ---- hostile and edge inputs --------------------------------------------------------------- */

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & -(c & 1u));
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static int decode_rc(const uint8_t *d, size_t len, size_t max_pixels, char *err, size_t errlen)
{
    deit_image img;
    int rc = image_decode(d, len, 3, max_pixels, &img, err, errlen);
    if (rc != DEIT_OK) CHECK_MSG(img.pixels == NULL && img.width == 0, "output not zeroed on failure");
    image_free(&img);
    return rc;
}

/* A PNG signature + IHDR (valid CRC) claiming w x h, then nothing else. */
static void png_header(uint8_t *b, uint32_t w, uint32_t h)
{
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    put_be32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    put_be32(b + 16, w);
    put_be32(b + 20, h);
    b[24] = 8; b[25] = 2; b[26] = b[27] = b[28] = 0;
    put_be32(b + 29, crc32_png(b + 12, 17));
}

static const uint8_t png_1x1[] = {  /* RGB (200, 100, 50), written by Pillow */
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x38, 0x91, 0x62, 0x04,
    0x00, 0x03, 0x56, 0x01, 0x5f, 0xe8, 0x17, 0x84, 0x52, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
};

static void test_hostile(void)
{
    char err[256];
    uint8_t one = 0xFF, b[64] = {0};
    size_t len;
    image_format fmt;
    int w, h;

    err[0] = 0;
    CHECK_INT_EQ(decode_rc(b, 0, MAXPIX, err, sizeof err), DEIT_EINVAL);
    CHECK_INT_EQ(decode_rc(NULL, 0, MAXPIX, err, sizeof err), DEIT_EINVAL);
    CHECK_INT_EQ(decode_rc(&one, 1, MAXPIX, err, sizeof err), DEIT_EINVAL);
    const char *garbage = "hello, this is certainly not an image file\n";
    CHECK_INT_EQ(decode_rc((const uint8_t *)garbage, strlen(garbage), MAXPIX, err, sizeof err),
                 DEIT_EUNSUPPORTED);
    CHECK_STR_EQ(err, "unsupported image format");
    CHECK_INT_EQ(image_probe((const uint8_t *)"II*\0\x08\0\0\0", 8, &fmt, &w, &h, err, sizeof err),
                 DEIT_EINVAL);  /* TIFF header whose first directory is missing */
    CHECK_INT_EQ(fmt, IMAGE_FMT_TIFF);
    CHECK_INT_EQ(image_probe((const uint8_t *)"RIFF\x20\0\0\0WEBPVP8 \x10\0\0\0", 20, &fmt, &w, &h, err,
                             sizeof err), DEIT_EINVAL);  /* WebP whose VP8 frame is cut off */
    CHECK_INT_EQ(fmt, IMAGE_FMT_WEBP);
    CHECK_INT_EQ(decode_rc((const uint8_t *)"P3\n2 2\n255\n", 11, MAXPIX, err, sizeof err),
                 DEIT_EINVAL);  /* plain PNM without its values */
    CHECK_STR_EQ(err, "PNM: not enough image data");
    CHECK_INT_EQ(decode_rc((const uint8_t *)"P6\n2 2\n65535\n", 13, MAXPIX, err, sizeof err),
                 DEIT_EINVAL);  /* 16-bit PNM without its samples */
    CHECK_INT_EQ(decode_rc((const uint8_t *)"P2\n3 1\n4\n0 5 1\n", 16, MAXPIX, err, sizeof err),
                 DEIT_EINVAL);  /* a value over maxval */
    {
        /* Pillow: round(v / maxval * 255) half to even (1/4 -> 63.75 -> 64, 2/4 -> 127.5 -> 128);
         * a '#' comment inside the data joins the digits around it (here 1#..\n2 -> 12 / 12). */
        static const uint8_t plain[] = "P2 4 1 12\n0 3 6\n1#x\n2";
        deit_image img;
        CHECK_INT_EQ(image_decode(plain, sizeof plain - 1, 1, MAXPIX, &img, err, sizeof err), DEIT_OK);
        if (img.pixels) {
            CHECK_INT_EQ(img.pixels[0], 0);
            CHECK_INT_EQ(img.pixels[1], 64);
            CHECK_INT_EQ(img.pixels[2], 128);
            CHECK_INT_EQ(img.pixels[3], 255);
        }
        image_free(&img);
    }

    /* Truncated files: Pillow refuses them ("image file is truncated"). */
    const char *trunc[] = {"chelsea.png", "chelsea_q60_420.jpg", "chelsea_progressive.jpg",
                           "chelsea.bmp", "chelsea_palette.gif"};
    for (size_t i = 0; i < sizeof trunc / sizeof trunc[0]; i++) {
        uint8_t *d = slurp_image(trunc[i], &len);
        int rc = decode_rc(d, len / 2, MAXPIX, err, sizeof err);
        CHECK_MSG(rc == DEIT_EINVAL, "truncated %s: %d (%s)", trunc[i], rc, err);
        rc = decode_rc(d, 40, MAXPIX, err, sizeof err);  /* header only */
        CHECK_MSG(rc == DEIT_EINVAL, "40-byte %s: %d (%s)", trunc[i], rc, err);
        free(d);
    }

    /* Huge dimensions in an otherwise valid header: refused from the header. */
    png_header(b, 100000, 100000);
    CHECK_INT_EQ(image_probe(b, 33, &fmt, &w, &h, err, sizeof err), DEIT_OK);
    CHECK(fmt == IMAGE_FMT_PNG && w == 100000 && h == 100000);
    CHECK_INT_EQ(decode_rc(b, 33, MAXPIX, err, sizeof err), DEIT_ETOOBIG);
    CHECK_MSG(strstr(err, "100000x100000") != NULL, "message: %s", err);

    uint8_t *jpg = slurp_image("chelsea_q60_420.jpg", &len);
    for (size_t i = 2; i + 9 < len; i++) {
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {  /* SOF0: FFC0 len(2) P(1) H(2) W(2) */
            jpg[i + 5] = 60000 >> 8; jpg[i + 6] = 60000 & 0xFF;
            jpg[i + 7] = 60000 >> 8; jpg[i + 8] = 60000 & 0xFF;
            break;
        }
    }
    CHECK_INT_EQ(image_probe(jpg, len, &fmt, &w, &h, err, sizeof err), DEIT_OK);
    CHECK(fmt == IMAGE_FMT_JPEG && w == 60000 && h == 60000);
    CHECK_INT_EQ(decode_rc(jpg, len, MAXPIX, err, sizeof err), DEIT_ETOOBIG);
    free(jpg);

    uint8_t gif[32] = "GIF89a";
    gif[6] = gif[7] = gif[8] = gif[9] = 0xFF;  /* 65535 x 65535 */
    gif[13] = ',';                              /* a frame as large, then LZW code size 8 */
    gif[18] = gif[19] = gif[20] = gif[21] = 0xFF;
    gif[23] = 8;
    CHECK_INT_EQ(decode_rc(gif, sizeof gif, MAXPIX, err, sizeof err), DEIT_ETOOBIG);
    uint8_t bmp[64] = "BM";
    put_le32(bmp + 14, 40);
    put_le32(bmp + 18, 1000000);
    put_le32(bmp + 22, (uint32_t)-1000000);  /* top-down */
    bmp[28] = 24;                            /* bits per pixel */
    CHECK_INT_EQ(decode_rc(bmp, sizeof bmp, MAXPIX, err, sizeof err), DEIT_ETOOBIG);
    {
        /* TIFF and WebP headers claiming 60000 x 60000 (a few dozen bytes): refused from the header,
         * before libtiff or libwebp allocate anything image-sized. */
        uint8_t tif[8 + 2 + 9 * 12 + 4] = {'I', 'I', 42, 0, 8, 0, 0, 0, 9, 0};
        static const uint16_t tags[9] = {256, 257, 258, 259, 262, 273, 277, 278, 279};
        const uint32_t vals[9] = {60000, 60000, 8, 1, 1, 8, 1, 60000, 1};
        for (int i = 0; i < 9; i++) {
            uint8_t *e = tif + 10 + 12 * i;
            e[0] = (uint8_t)tags[i];
            e[1] = (uint8_t)(tags[i] >> 8);
            e[2] = 4;                        /* LONG */
            e[4] = 1;                        /* count */
            put_le32(e + 8, vals[i]);
        }
        CHECK_INT_EQ(image_probe(tif, sizeof tif, &fmt, &w, &h, err, sizeof err), DEIT_OK);
        CHECK(fmt == IMAGE_FMT_TIFF && w == 60000 && h == 60000);
        CHECK_INT_EQ(decode_rc(tif, sizeof tif, MAXPIX, err, sizeof err), DEIT_ETOOBIG);
        /* WebP extended header: canvas 16384 x 16384 and an animation flag, no frame data */
        uint8_t webp[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X',
                            10, 0, 0, 0, 0x02, 0, 0, 0, 0xFF, 0x3F, 0, 0xFF, 0x3F, 0};
        CHECK_INT_EQ(image_probe(webp, sizeof webp, &fmt, &w, &h, err, sizeof err), DEIT_OK);
        CHECK(fmt == IMAGE_FMT_WEBP && w == 16384 && h == 16384);
        CHECK_INT_EQ(decode_rc(webp, sizeof webp, (size_t)16384 * 16384 - 1, err, sizeof err),
                     DEIT_ETOOBIG);
    }
    put_le32(bmp + 22, 0x80000000u);         /* INT32_MIN: no absolute value */
    CHECK_INT_EQ(decode_rc(bmp, sizeof bmp, MAXPIX, err, sizeof err), DEIT_EINVAL);
    put_le32(bmp + 18, (uint32_t)-5);
    CHECK_INT_EQ(decode_rc(bmp, sizeof bmp, MAXPIX, err, sizeof err), DEIT_EINVAL);

    /* The limit is inclusive: exactly w*h passes, one less fails, for every decoder. */
    const char *lim[] = {"chelsea.png", "chelsea_q60_420.jpg", "chelsea_palette.gif", "chelsea.bmp"};
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        uint8_t *d = slurp_image(lim[i], &len);
        CHECK_MSG(decode_rc(d, len, 451 * 300, err, sizeof err) == DEIT_OK, "%s at limit: %s", lim[i], err);
        CHECK_INT_EQ(decode_rc(d, len, 451 * 300 - 1, err, sizeof err), DEIT_ETOOBIG);
        free(d);
    }

    /* 1x1 works, and upsampling a constant stays constant. */
    deit_image img, crop;
    CHECK_INT_EQ(image_decode(png_1x1, sizeof png_1x1, 3, 1, &img, err, sizeof err), DEIT_OK);
    CHECK(img.width == 1 && img.height == 1 && img.pixels && img.pixels[0] == 200 &&
          img.pixels[1] == 100 && img.pixels[2] == 50);
    image_free(&img);
    deit_preproc pp = pp_timm(224, 248);
    CHECK_INT_EQ(preprocess_encoded(&pp, png_1x1, sizeof png_1x1, 1, NULL, &crop, err, sizeof err), DEIT_OK);
    size_t off = 0;
    for (size_t i = 0; crop.pixels && i < (size_t)224 * 224; i++)
        off += crop.pixels[3 * i] != 200 || crop.pixels[3 * i + 1] != 100 || crop.pixels[3 * i + 2] != 50;
    CHECK_INT_EQ(off, 0);
    image_free(&crop);
}

/* A 1x20000 strip decodes within any pixel limit, but its shortest-side resize would be
 * 248x4960000 (3.7 GB): refused before the resize; a wide strip likewise. A 1x(2^24) strip, whose
 * target overflows int, is refused without undefined behaviour. */
static void test_resize_limit(void)
{
    char err[256] = "";
    deit_preproc pp = pp_timm(224, 248);
    float *px = malloc(3 * 224 * 224 * sizeof(float));
    const size_t lens[3] = {20000, 20000, 1u << 24};
    for (int k = 0; k < 3; k++) {
        char head[64];
        int hl = k == 1 ? snprintf(head, sizeof head, "P5\n%zu 1\n255\n", lens[k])
                        : snprintf(head, sizeof head, "P5\n1 %zu\n255\n", lens[k]);
        size_t n = (size_t)hl + lens[k];
        uint8_t *pgm = malloc(n);
        memcpy(pgm, head, (size_t)hl);
        memset(pgm + hl, 128, lens[k]);
        int rc = preprocess_encoded(&pp, pgm, n, MAXPIX, px, NULL, err, sizeof err);
        CHECK_MSG(rc == DEIT_ETOOBIG && strstr(err, "aspect ratio"), "strip %d: %d (%s)", k, rc, err);
        free(pgm);
    }
    /* an ordinary tall image still passes: 90x1200 -> 248x3306 */
    uint8_t tall[32 + 90 * 1200];
    int hl = snprintf((char *)tall, 32, "P5\n90 1200\n255\n");
    memset(tall + hl, 7, 90 * 1200);
    CHECK_INT_EQ(preprocess_encoded(&pp, tall, (size_t)hl + 90 * 1200, MAXPIX, px, NULL, err, sizeof err), DEIT_OK);
    free(px);
}

/* A tiny progressive JPEG (libjpeg's default script) whose last scan is then repeated until the
 * file holds more than 1000 scans: refused (ETOOBIG) instead of decoded scan after scan. */
static void test_scan_limit(void)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    uint8_t row[16 * 3];
    char err[256] = "";
    for (int i = 0; i < 16 * 3; i++) row[i] = (uint8_t)(i * 5);
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = c.image_height = 16;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    deit_image img;
    CHECK_INT_EQ(image_decode(out, outlen, 3, MAXPIX, &img, err, sizeof err), DEIT_OK);
    image_free(&img);
    size_t last = 0;
    for (size_t i = 0; i + 1 < outlen; i++)
        if (out[i] == 0xFF && out[i + 1] == 0xDA) last = i;
    size_t scan = outlen - 2 - last, reps = 1100, n = last + reps * scan + 2;
    uint8_t *big = malloc(n);
    memcpy(big, out, last);
    for (size_t r = 0; r < reps; r++) memcpy(big + last + r * scan, out + last, scan);
    big[n - 2] = 0xFF;
    big[n - 1] = 0xD9;
    int rc = image_decode(big, n, 3, MAXPIX, &img, err, sizeof err);
    CHECK_MSG(rc == DEIT_ETOOBIG && strstr(err, "scans"), "scan bomb: %d (%s)", rc, err);
    image_free(&img);
    free(big);
    free(out);
}

/* ---- crop, padding, conversions ------------------------------------------------------------ */

static void test_crop_rules(void)
{
    char err[256];
    uint8_t px[9];
    for (int i = 0; i < 9; i++) px[i] = (uint8_t)(10 * (i + 1));
    deit_image src = {9, 1, 1, px}, crop;
    deit_preproc pp = pp_timm(4, 0);
    pp.channels = 1;
    pp.do_resize = 0;
    pp.crop_h = 1;

    /* torchvision: round((9 - 4) / 2) = round(2.5) = 2 (half to even); HF: 5 // 2 = 2. */
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_OK);
    CHECK(crop.pixels && crop.pixels[0] == 30);
    image_free(&crop);
    /* width 7: round(1.5) = 2 for torchvision, 3 // 2 = 1 for both HF rules. */
    src.width = 7;
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_OK);
    CHECK(crop.pixels && crop.pixels[0] == 30);
    image_free(&crop);
    pp.crop_rule = CROP_HF_SLOW;
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_OK);
    CHECK(crop.pixels && crop.pixels[0] == 20);
    image_free(&crop);
    pp.crop_rule = CROP_HF_FAST;
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_OK);
    CHECK(crop.pixels && crop.pixels[0] == 20);
    image_free(&crop);

    /* Padding a 3x1 image to 6x4: torchvision and the fast HF processor put (6-3)//2 = 1 column
     * and (4-1)//2 = 1 row before; the slow HF processor ceil(3/2) = 2 of each. */
    src.width = 3;
    pp.crop_w = 6;
    pp.crop_h = 4;
    pp.crop_rule = CROP_TORCHVISION;
    const uint8_t tv[24] = {0, 0, 0, 0, 0, 0, 0, 10, 20, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t hf[24] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 20, 30, 0, 0, 0, 0, 0, 0, 0};
    float f[24];
    CHECK_INT_EQ(preprocess_image(&pp, &src, f, &crop, err, sizeof err), DEIT_OK);
    CHECK(crop.pixels && crop.width == 6 && crop.height == 4 && memcmp(crop.pixels, tv, 24) == 0);
    CHECK(f[7] == (10.0f / 255.0f - pp.mean[0]) / pp.std[0] && f[0] == (0.0f - pp.mean[0]) / pp.std[0]);
    image_free(&crop);
    pp.crop_rule = CROP_HF_SLOW;
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_OK);
    CHECK(crop.pixels && memcmp(crop.pixels, hf, 24) == 0);
    image_free(&crop);
    pp.crop_rule = CROP_HF_FAST;
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_OK);
    CHECK(crop.pixels && memcmp(crop.pixels, tv, 24) == 0);
    image_free(&crop);
    pp.crop_rule = (center_crop_rule)9;
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_EINVAL);
    pp.crop_rule = CROP_HF_FAST;

    /* Inconsistent parameters are refused, not guessed. */
    pp.channels = 3;
    CHECK_INT_EQ(preprocess_image(&pp, &src, NULL, &crop, err, sizeof err), DEIT_EINVAL);
    CHECK(crop.pixels == NULL);
    CHECK_INT_EQ(image_crop(&src, 1, 0, 3, 1, &crop, err, sizeof err), DEIT_EINVAL);
    CHECK_INT_EQ(image_crop(&src, -1, 0, 1, 1, &crop, err, sizeof err), DEIT_EINVAL);
    image_free(NULL);
    image_free(&crop);
}

/* convert('L') is Pillow's L24 luma of the RGB decode; grey sources keep their value. */
static void test_luma(void)
{
    char err[256];
    size_t len;
    deit_image rgb, l;
    uint8_t *d = slurp_image("chelsea.png", &len);
    CHECK_INT_EQ(image_decode(d, len, 3, MAXPIX, &rgb, err, sizeof err), DEIT_OK);
    CHECK_INT_EQ(image_decode(d, len, 1, MAXPIX, &l, err, sizeof err), DEIT_OK);
    size_t bad = 0;
    for (size_t i = 0; rgb.pixels && l.pixels && i < (size_t)rgb.width * rgb.height; i++) {
        const uint8_t *p = rgb.pixels + 3 * i;
        bad += l.pixels[i] != (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    }
    CHECK_INT_EQ(bad, 0);
    CHECK(l.channels == 1 && l.width == 451);
    image_free(&rgb);
    image_free(&l);
    free(d);
    d = slurp_image("camera.png", &len);
    CHECK_INT_EQ(image_decode(d, len, 3, MAXPIX, &rgb, err, sizeof err), DEIT_OK);
    CHECK_INT_EQ(image_decode(d, len, 1, MAXPIX, &l, err, sizeof err), DEIT_OK);
    bad = 0;
    for (size_t i = 0; rgb.pixels && l.pixels && i < (size_t)rgb.width * rgb.height; i++)
        bad += rgb.pixels[3 * i] != l.pixels[i] || rgb.pixels[3 * i + 1] != l.pixels[i] ||
               rgb.pixels[3 * i + 2] != l.pixels[i];
    CHECK_INT_EQ(bad, 0);
    image_free(&rgb);
    image_free(&l);
    free(d);
}

/* NEAREST goes through Pillow's affine scaling: 2x2 → 4x3 samples rows at 1/3, 1, 5/3. */
static void test_nearest(void)
{
    char err[256];
    uint8_t px[4] = {1, 2, 3, 4};
    deit_image src = {2, 2, 1, px}, dst;
    CHECK_INT_EQ(image_resize(&src, 4, 3, INTERP_NEAREST, &dst, err, sizeof err), DEIT_OK);
    const uint8_t want[12] = {1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    CHECK(dst.pixels && memcmp(dst.pixels, want, 12) == 0);
    image_free(&dst);
    CHECK_INT_EQ(image_resize(&src, 0, 3, INTERP_BICUBIC, &dst, err, sizeof err), DEIT_EINVAL);
}

/* A thin strip passes any input pixel limit but, resized on its short side, would need billions
 * of pixels (and overflowed int at 1 x 40M): refused before anything is allocated. Found by
 * fuzz_image (tests/fuzz/regressions/image/). */
static void test_extreme_aspect(void)
{
    char err[256];
    deit_preproc pp = pp_timm(224, 248);
    pp.channels = 1;
    size_t n = 40 * 1000 * 1000;
    uint8_t *px = calloc(n, 1);
    deit_image strip = {1, 70000, 1, px}, crop;
    CHECK(px != NULL);
    if (!px) return;
    int rc = preprocess_image(&pp, &strip, NULL, &crop, err, sizeof err);
    CHECK_MSG(rc == DEIT_ETOOBIG && strstr(err, "aspect"), "1x70000: %d (%s)", rc, err);
    CHECK(crop.pixels == NULL);
    strip.width = 70000;
    strip.height = 1;
    CHECK_INT_EQ(preprocess_image(&pp, &strip, NULL, &crop, err, sizeof err), DEIT_ETOOBIG);
    strip.width = 1;
    strip.height = (int)n;
    CHECK_INT_EQ(preprocess_image(&pp, &strip, NULL, &crop, err, sizeof err), DEIT_ETOOBIG);
    /* A fixed-size resize (transformers' {height, width}) has no aspect ratio to refuse, but its
     * filter tables and band grow with the input axis: a 40M x 1 or 1 x 40M strip to 256 x 256
     * would take GBs; refused by the resize, both resamplers, before its tables are allocated. A
     * 1 x 70000 strip costs a few MB and is resized as Pillow would. */
    for (int r = 0; r < 2; r++) {
        deit_preproc hf = pp_hf(r ? RESAMPLE_TORCHVISION : RESAMPLE_PILLOW);
        hf.channels = 1;
        deit_image thin = {(int)n, 1, 1, px};
        rc = preprocess_image(&hf, &thin, NULL, &crop, err, sizeof err);
        CHECK_MSG(rc == DEIT_ETOOBIG && strstr(err, "aspect ratio"), "exact resize of 40Mx1: %d (%s)", rc, err);
        CHECK(crop.pixels == NULL);
        image_free(&crop);
        thin.width = 1;
        thin.height = (int)n;
        rc = preprocess_image(&hf, &thin, NULL, &crop, err, sizeof err);
        CHECK_MSG(rc == DEIT_ETOOBIG && strstr(err, "aspect ratio"), "exact resize of 1x40M: %d (%s)", rc, err);
        image_free(&crop);
        thin.height = 70000;
        rc = preprocess_image(&hf, &thin, NULL, &crop, err, sizeof err);
        CHECK_MSG(rc == DEIT_OK && crop.width == 224 && crop.height == 224, "exact resize of 1x70000: %d (%s)", rc,
                  err);
        image_free(&crop);
    }
    /* Without a resize step only the input limit applies. */
    pp.do_resize = 0;
    pp.crop_w = pp.crop_h = 1;
    CHECK_INT_EQ(preprocess_image(&pp, &strip, NULL, &crop, err, sizeof err), DEIT_OK);
    image_free(&crop);
    free(px);
}

/* RESIZE_KEEP_RATIO (timm's ResizeKeepRatio) must pick the size Python computes, round(side /
 * min(h / resize_h, w / resize_w)) with ties to even, and then resize exactly as RESIZE_EXACT to
 * that size would: each case is compared, crop for crop, with the exact resize to the size worked
 * out by hand. */
static void test_keep_ratio(void)
{
    static const struct {
        int w, h, box_w, box_h, crop_w, crop_h; /* image, the box to cover, the model's input */
        int want_w, want_h;
    } cases[] = {
        {512, 512, 497, 248, 448, 224, 497, 497}, /* a wide box: the width decides, 512 -> 497 */
        {640, 480, 248, 497, 224, 448, 663, 497}, /* a tall box: the height decides, 480 -> 497 */
        {4, 5, 2, 2, 2, 2, 2, 2},                 /* 5 / 2 = 2.5 rounds to 2 (even), not 3 */
        {4, 7, 2, 2, 2, 2, 2, 4},                 /* 7 / 2 = 3.5 rounds to 4 */
        {300, 100, 40, 20, 36, 18, 60, 20},       /* the height decides: 100 / 20 = 5 -> 60 x 20 */
        {30, 10, 40, 20, 36, 18, 60, 20},         /* upscaled: 10 / 20 = 0.5 -> 60 x 20 */
        {497, 497, 497, 248, 448, 224, 497, 497}, /* already covering at its size: not resized */
    };
    char err[256];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int w = cases[k].w, h = cases[k].h;
        uint8_t *px = malloc((size_t)w * h * 3);
        for (int i = 0; i < w * h * 3; i++) px[i] = (uint8_t)(i * 7 + i / (w * 3) * 13);
        deit_image img = {w, h, 3, px}, a, b;
        deit_preproc keep = pp_timm(cases[k].crop_h, 0), exact = keep;
        keep.crop_w = exact.crop_w = cases[k].crop_w;
        keep.resize = RESIZE_KEEP_RATIO;
        keep.resize_w = cases[k].box_w;
        keep.resize_h = cases[k].box_h;
        keep.interp = exact.interp = INTERP_BILINEAR;
        exact.resize = RESIZE_EXACT;
        exact.resize_w = cases[k].want_w;
        exact.resize_h = cases[k].want_h;
        int ra = preprocess_image(&keep, &img, NULL, &a, err, sizeof err);
        CHECK_MSG(ra == DEIT_OK, "keep ratio %dx%d: %s", w, h, err);
        int rb = preprocess_image(&exact, &img, NULL, &b, err, sizeof err);
        CHECK_MSG(rb == DEIT_OK, "exact %dx%d: %s", w, h, err);
        if (ra == DEIT_OK && rb == DEIT_OK) {
            CHECK(a.width == cases[k].crop_w && a.height == cases[k].crop_h);
            CHECK_MSG(a.width == b.width && a.height == b.height &&
                          memcmp(a.pixels, b.pixels, (size_t)a.width * a.height * 3) == 0,
                      "keep ratio %dx%d over %dx%d is not the exact resize to %dx%d", w, h, cases[k].box_w,
                      cases[k].box_h, cases[k].want_w, cases[k].want_h);
        }
        image_free(&a);
        image_free(&b);
        free(px);
    }
    /* a thin strip would cover the box only at a size over the resize limit */
    deit_preproc keep = pp_timm(224, 0);
    keep.resize = RESIZE_KEEP_RATIO;
    keep.resize_w = 497;
    keep.resize_h = 248;
    keep.crop_w = 448;
    uint8_t strip[3 * 70000];
    memset(strip, 9, sizeof strip);
    deit_image s = {70000, 1, 3, strip}, c;
    int rc = preprocess_image(&keep, &s, NULL, &c, err, sizeof err);
    CHECK_MSG(rc == DEIT_ETOOBIG && strstr(err, "aspect"), "70000x1 strip: %d (%s)", rc, err);
}

/* image_resize_window must give exactly the window of the full resize, whatever the mode,
 * resampler, channel count and direction (down, up, one axis unchanged, both unchanged), for
 * windows touching every edge; and refuse windows that leave the output. */
static void test_resize_window(void)
{
    static const int sizes[][4] = {  /* src w, h -> out w, h */
        {37, 29, 17, 13}, {13, 11, 40, 31}, {37, 29, 37, 12}, {37, 29, 15, 29},
        {37, 29, 37, 29}, {5, 3, 1, 1}, {64, 48, 23, 64},
    };
    static const interp_mode modes[] = {INTERP_NEAREST, INTERP_BILINEAR, INTERP_BICUBIC};
    static const resample_impl impls[] = {RESAMPLE_PILLOW, RESAMPLE_TORCHVISION};
    char err[256];
    uint32_t seed = 12345;
    int mismatches = 0, cases = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int nch = 1; nch <= 3; nch += 2) {
            deit_image src = {0};
            src.width = sizes[si][0];
            src.height = sizes[si][1];
            src.channels = nch;
            size_t n = (size_t)src.width * src.height * nch;
            src.pixels = malloc(n);
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                src.pixels[i] = (uint8_t)(seed >> 24);
            }
            for (size_t mi = 0; mi < 3; mi++) {
                for (size_t ii = 0; ii < 2; ii++) {
                    int ow = sizes[si][2], oh = sizes[si][3];
                    deit_image full, win, crop;
                    CHECK_INT_EQ(image_resize_with(&src, ow, oh, modes[mi], impls[ii], &full, err,
                                                   sizeof err), DEIT_OK);
                    /* windows: whole, each corner, interior, single pixel */
                    int wins[][4] = {{0, 0, ow, oh}, {0, 0, (ow + 1) / 2, (oh + 1) / 2},
                                     {ow / 2, oh / 2, ow - ow / 2, oh - oh / 2},
                                     {ow / 3, oh / 4, ow - ow / 3 - ow / 5, oh - oh / 4 - oh / 6},
                                     {ow - 1, 0, 1, 1}, {0, oh - 1, ow, 1}};
                    for (size_t wi = 0; wi < sizeof wins / sizeof wins[0]; wi++) {
                        int x0 = wins[wi][0], y0 = wins[wi][1], w = wins[wi][2], h = wins[wi][3];
                        if (w <= 0 || h <= 0)
                            continue;
                        cases++;
                        if (image_resize_window(&src, ow, oh, x0, y0, w, h, modes[mi], impls[ii],
                                                &win, err, sizeof err) != DEIT_OK ||
                            image_crop(&full, x0, y0, w, h, &crop, err, sizeof err) != DEIT_OK ||
                            win.width != w || win.height != h || win.channels != nch ||
                            memcmp(win.pixels, crop.pixels, (size_t)w * h * nch) != 0)
                            mismatches++;
                        image_free(&win);
                        image_free(&crop);
                    }
                    image_free(&full);
                }
            }
            free(src.pixels);
        }
    }
    CHECK(cases > 200);
    CHECK_INT_EQ(mismatches, 0);

    deit_image src = {0}, win;
    uint8_t px[64] = {0};
    src.pixels = px;
    src.width = src.height = 8;
    src.channels = 1;
    CHECK_INT_EQ(image_resize_window(&src, 4, 4, 1, 0, 4, 4, INTERP_BILINEAR, RESAMPLE_PILLOW,
                                     &win, err, sizeof err), DEIT_EINVAL);
    CHECK(win.pixels == NULL);
    CHECK_INT_EQ(image_resize_window(&src, 4, 4, -1, 0, 2, 2, INTERP_BILINEAR, RESAMPLE_PILLOW,
                                     &win, err, sizeof err), DEIT_EINVAL);
    CHECK_INT_EQ(image_resize_window(&src, 4, 4, 0, 0, 0, 2, INTERP_BILINEAR, RESAMPLE_PILLOW,
                                     &win, err, sizeof err), DEIT_EINVAL);
    CHECK_INT_EQ(image_resize_window(&src, 4, 4, 0, 3, 4, 2, INTERP_BICUBIC, RESAMPLE_PILLOW,
                                     &win, err, sizeof err), DEIT_EINVAL);
    CHECK_INT_EQ(image_resize_window(&src, 4, 4, 0, 2, 4, 2, INTERP_BICUBIC, RESAMPLE_PILLOW,
                                     &win, err, sizeof err), DEIT_OK);
    image_free(&win);
}

int main(void)
{
    test_golden_crops();
    test_hf_pixel_values();
    test_torchvision_resize();
    test_hostile();
    test_scan_limit();
    test_resize_limit();
    test_crop_rules();
    test_luma();
    test_nearest();
    test_resize_window();
    test_extreme_aspect();
    test_keep_ratio();
    return check_summary("test_preprocess");
}
