/* test_batch_answer.c — the status and words both front ends give a job that did not end BATCH_OK. */
#include <string.h>

#include "../check.h"
#include "batch_answer.h"
#include "batcher.h"

static void expect(int status, int http, const char *words)
{
    server_config c;
    server_config_defaults(&c);
    c.queue = 77;
    c.request_timeout_s = 9;
    char msg[256];
    CHECK_INT_EQ(batch_answer(status, &c, msg, sizeof msg), http);
    CHECK_MSG(strstr(msg, words) != NULL, "status %d: \"%s\" lacks \"%s\"", status, msg, words);
}

int main(void)
{
    expect(BATCH_FULL, 503, "queue is full (77 images, --queue)");
    expect(BATCH_TIMEOUT, 504, "timed out after 9 s");
    expect(BATCH_EXPIRED, 504, "own timeout");
    expect(BATCH_STOPPING, 503, "shutting down");
    expect(BATCH_SHUTDOWN, 503, "shutting down");
    expect(BATCH_FAILED, 500, "inference failed");
    expect(BATCH_NONFINITE, 500, "non-finite logits (NaN or infinity)");
    /* a short buffer truncates, never overruns */
    server_config c;
    server_config_defaults(&c);
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    CHECK_INT_EQ(batch_answer(BATCH_NONFINITE, &c, tiny, sizeof tiny), 500);
    CHECK_INT_EQ((int)strlen(tiny), 7);
    return check_summary("test_batch_answer");
}
