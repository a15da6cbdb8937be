/* test_threads.c — the per-state thread team: forward passes on 1..3 threads and batches 1..4 give
 * bit-identical logits (also when a team is narrowed and widened between passes), states are
 * created and freed repeatedly, and two states run concurrently.
 * Built with ThreadSanitizer too (make tsan-test) to prove the team's hand-offs race-free. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "deit.h"
#include "state.h"

#define MODEL "tests/fixtures/models/timm-deit-reduced"

typedef struct {
    const deit_model *m;
    const float *px;
    const float *want;         /* [4][K] class logits from one thread */
    int ok;
} runner;

/* Repeated 2-thread forwards of batch 4 on a private state; ok = every result matched. */
static void *run_state(void *arg)
{
    runner *r = arg;
    int K = deit_model_classes(r->m);
    deit_state *s = new_state(r->m, 4, 2);
    float *out = malloc(4 * (size_t)K * sizeof(float));
    r->ok = s && out;
    for (int it = 0; r->ok && it < 3; it++)
        r->ok = deit_forward(r->m, s, r->px, 4, out, NULL) == DEIT_OK &&
                memcmp(out, r->want, 4 * (size_t)K * sizeof(float)) == 0;
    free(out);
    deit_state_free(s);
    return NULL;
}

int main(void)
{
    char err[512];
    deit_model *m = NULL;
    int rc = deit_model_open(MODEL, &m, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s", err);
    if (rc != DEIT_OK)
        return check_summary("test_threads");
    int K = deit_model_classes(m);
    size_t nin = deit_input_floats(m);
    float *px = malloc(4 * nin * sizeof(float));
    unsigned seed = 99;
    for (size_t i = 0; i < 4 * nin; i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = (float)((seed >> 8) & 0xffff) / 65535.0f * 4.0f - 2.0f;
    }
    /* reference: one thread, one image at a time */
    float *want = malloc(4 * (size_t)K * sizeof(float)), *got = malloc(8 * (size_t)K * sizeof(float));
    deit_state *s1 = deit_state_new_with(m, NULL);
    CHECK(s1 && deit_state_threads(s1) == 1);
    for (int i = 0; i < 4; i++)
        CHECK_INT_EQ(deit_forward(m, s1, px + i * nin, 1, want + i * K, NULL), DEIT_OK);
    deit_state_free(s1);

    CHECK(new_state(m, 1, 0) == NULL);
    CHECK(new_state(m, 1, 65) == NULL);
    for (int t = 1; t <= 3; t++)
        for (int b = 1; b <= 4; b++) {
            deit_state *s = new_state(m, b, t);
            CHECK(s && deit_state_threads(s) == t);
            if (!s)
                continue;
            for (int it = 0; it < 2; it++) {
                CHECK_INT_EQ(deit_forward(m, s, px, b, got, got + 4 * K), DEIT_OK);
                CHECK_MSG(memcmp(got, want, (size_t)b * K * sizeof(float)) == 0,
                          "%d threads, batch %d, pass %d differ", t, b, it);
            }
            CHECK_INT_EQ(deit_forward(m, s, px, b + 1, got, NULL), DEIT_EINVAL);
            deit_state_free(s);
        }

    /* a 3-thread team narrowed and widened between passes (a server worker lending its cores):
     * every width gives the same bits, widths are clamped to 1..team */
    deit_state *sw = new_state(m, 4, 3);
    CHECK(sw != NULL);
    static const int widths[] = {1, 3, 2, 0, 9, 1, 3};
    for (size_t i = 0; sw && i < sizeof widths / sizeof widths[0]; i++) {
        deit_state_set_width(sw, widths[i]);
        CHECK_INT_EQ(deit_forward(m, sw, px, 4, got, NULL), DEIT_OK);
        CHECK_MSG(memcmp(got, want, 4 * (size_t)K * sizeof(float)) == 0, "width %d differs", widths[i]);
    }
    CHECK_INT_EQ(deit_state_threads(sw), 3);
    deit_state_free(sw);
    deit_state_set_width(NULL, 2);

    /* two states used by two caller threads at once share only the read-only model */
    runner r[2] = {{m, px, want, 0}, {m, px, want, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, run_state, &r[i]);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(r[i].ok, "concurrent state %d", i);
    }
    deit_state_free(NULL);
    free(px);
    free(want);
    free(got);
    deit_model_free(m);
    return check_summary("test_threads");
}
