/* test_bombs.c — decompression bombs and absurd images over HTTP: huge declared dimensions, endless
 * progressive scans, many-frame GIFs; each is refused early with bounded memory. Not in the TSan run. */
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <jpeglib.h>
#include <stdint.h>

#include "checks.h"
#include "make_png.h"

/* ---- decompression bombs and absurd images -------------------------------------------------------- */

/* A w x h JPEG of a gradient (libjpeg), progressive when asked. */
static blob make_jpeg(int w, int h, int progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    uint8_t *row = malloc((size_t)w * 3);
    for (int i = 0; i < w * 3; i++) row[i] = (uint8_t)(i * 5);
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    blob b = {malloc(outlen), outlen};
    memcpy(b.data, out, outlen);
    free(out);
    return b;
}

/* Rewrites the SOF dimensions of a baseline JPEG: the header then claims w x h. */
static void jpeg_set_dims(blob *b, unsigned w, unsigned h)
{
    uint8_t *d = (uint8_t *)b->data;
    for (size_t i = 2; i + 9 < b->len; i++)
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) {
            d[i + 5] = (uint8_t)(h >> 8); d[i + 6] = (uint8_t)h;
            d[i + 7] = (uint8_t)(w >> 8); d[i + 8] = (uint8_t)w;
            return;
        }
}

/* A progressive JPEG whose last scan is repeated until the file holds `scans` scans. */
static blob make_scan_bomb(int scans)
{
    blob j = make_jpeg(64, 64, 1);
    size_t last = 0, have = 0;
    for (size_t i = 0; i + 1 < j.len; i++)
        if ((uint8_t)j.data[i] == 0xFF && (uint8_t)j.data[i + 1] == 0xDA) { last = i; have++; }
    size_t scan = j.len - 2 - last, reps = (size_t)scans > have ? (size_t)scans - have + 1 : 1;
    size_t n = last + reps * scan + 2;
    blob b = {malloc(n), n};
    memcpy(b.data, j.data, last);
    for (size_t r = 0; r < reps; r++) memcpy(b.data + last + r * scan, j.data + last, scan);
    b.data[n - 2] = (char)0xFF;
    b.data[n - 1] = (char)0xD9;
    free(j.data);
    return b;
}

/* A GIF with a screen of sw x sh and `frames` frames of fw x fh (each one LZW-coded pixel, so frames
 * larger than one pixel are truncated data). */
static blob make_gif(unsigned sw, unsigned sh, unsigned fw, unsigned fh, int frames)
{
    static const uint8_t frame_data[] = {0x02, 0x02, 0x44, 0x01, 0x00};
    size_t n = 13 + 6 + (size_t)frames * (10 + sizeof frame_data) + 1;
    blob b = {malloc(n), 0};
    uint8_t *o = (uint8_t *)b.data;
    memcpy(o, "GIF89a", 6);
    o[6] = (uint8_t)sw; o[7] = (uint8_t)(sw >> 8); o[8] = (uint8_t)sh; o[9] = (uint8_t)(sh >> 8);
    o[10] = 0x80; o[11] = 0; o[12] = 0;                    /* global colour table of 2 entries */
    memcpy(o + 13, "\xff\x40\x00\x00\x00\x00", 6);
    size_t k = 19;
    for (int f = 0; f < frames; f++) {
        uint8_t desc[10] = {0x2C, 0, 0, 0, 0, (uint8_t)fw, (uint8_t)(fw >> 8), (uint8_t)fh, (uint8_t)(fh >> 8), 0};
        memcpy(o + k, desc, 10);
        memcpy(o + k + 10, frame_data, sizeof frame_data);
        k += 10 + sizeof frame_data;
    }
    o[k++] = 0x3B;
    b.len = k;
    return b;
}

typedef struct {
    const char *what;
    blob b;
    long status;               /* expected */
    double bound_s;            /* answered within (x SLACK) */
    const char *needle;        /* in the error message, or NULL */
} bomb;

static void test_bombs(void)
{
    server s;
    const char *extra[] = {"--max-body-mb", "8", NULL};
    if (server_start(&s, "bombs", extra)) {
        CHECK(0);
        return;
    }
    blob huge_png = make_png(1, 1, 1, 0); /* then patch IHDR to 100000 x 100000 (CRC left stale: header only) */
    put_be32((uint8_t *)huge_png.data + 16, 100000);
    put_be32((uint8_t *)huge_png.data + 20, 100000);
    blob huge_jpeg = make_jpeg(16, 16, 0);
    jpeg_set_dims(&huge_jpeg, 65000, 65000); /* JPEG's maximum is 65535 a side */
    bomb cases[] = {
        {"PNG header 100000x100000", huge_png, 413, 1.0, "pixels"},
        {"JPEG header 65000x65000", huge_jpeg, 413, 1.0, "pixels"},
        {"PNG bomb 7000x7000 (49 Mpx) in a few KB", make_png(7000, 7000, 0, 0), 413, 1.0, "pixels"},
        {"GIF screen 65535x65535", make_gif(65535, 65535, 1, 1, 1), 413, 1.0, "pixels"},
        /* Pillow grows the logical screen to hold a larger first frame, so the pixel limit sees
         * 60000x60000 and refuses it before any allocation (it was a 400 "frame outside the screen"
         * before the decoder followed Pillow). */
        {"GIF 16x16 screen, 60000x60000 frame", make_gif(16, 16, 60000, 60000, 1), 413, 1.0, "pixels"},
        {"GIF 1x1 with 5000 frames", make_gif(1, 1, 1, 1, 5000), 200, 2.0, NULL},
        {"JPEG progressive with 5000 scans", make_scan_bomb(5000), 413, 2.0, "scans"},
        {"PNG 1x1", make_png(1, 1, 1, 200), 200, 2.0, NULL},
        {"JPEG 1x1", make_jpeg(1, 1, 0), 200, 2.0, NULL},
        {"GIF 1x1", make_gif(1, 1, 1, 1, 1), 200, 2.0, NULL},
        {"PNG bomb 4000x4000 (16 Mpx, under --max-pixels) in a few KB", make_png(4000, 4000, 0, 0), 200, 10.0, NULL},
        {"PNG 1x40000000 strip (over stb's 2^24 a side)", make_png(1, 40000000, 0, 0), 400, 2.0, NULL},
        {"PNG 1x16000000 strip (resize target overflows int)", make_png(1, 16000000, 0, 0), 413, 10.0, "aspect ratio"},
        {"PNG 1x20000 strip (3.7 GB once resized to 248 wide)", make_png(1, 20000, 1, 0), 413, 1.0, "aspect ratio"},
        {"PNG 20000x1 strip", make_png(20000, 1, 1, 0), 413, 1.0, "aspect ratio"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    rss_watch w;
    rss_start(&w, s.pid);
    CURL *c = curl_easy_init();
    const char *h[] = {"Content-Type: application/octet-stream", NULL};
    for (int i = 0; i < n; i++) {
        bomb *k = &cases[i];
        resp r = request(c, "POST", url_of(&s, "/v1/predict"), h, k->b.data, k->b.len, 120);
        fprintf(stderr, "info: bomb: %-60s %7zu bytes -> %ld in %.3f s %.120s\n", k->what, k->b.len, r.status, r.secs,
                r.status == 200 ? "" : r.body);
        CHECK_MSG(r.rc == CURLE_OK && r.status == k->status, "%s: curl %s, HTTP %ld (expected %ld) %s", k->what,
                  curl_easy_strerror(r.rc), r.status, k->status, r.body);
        CHECK_MSG(r.secs < k->bound_s * SLACK, "%s: took %.2f s", k->what, r.secs);
        if (k->needle) CHECK_MSG(strstr(r.body, k->needle) != NULL, "%s: message %s", k->what, r.body);
        resp_free(&r);
        free(k->b.data);
    }
    curl_easy_cleanup(c);
    check_rss("bombs", rss_stop(&w));
    CHECK(get_status(url_of(&s, "/readyz")) == 200);
    check_stopped(&s);
}

int main(void)
{
    test_init("test_bombs");
    if (QUICK)
        return skip_under_tsan("test_bombs", "decompression and image bombs");
    test_bombs();
    curl_global_cleanup();
    return check_summary("test_bombs");
}
