/* hub_progress.c — the command-line tools' download feedback: a progress bar on a terminal, plain
 * lines otherwise (logs, pipes). */
#include "hub_progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *prog;
    char file[64];             /* the file the bar is drawing */
    int shown;                 /* last permille drawn (-1: none yet) */
} bar_state;

static bar_state bar = {NULL, "", -1};

static void end_bar(void)
{
    if (bar.shown >= 0)
        fputc('\n', stderr);
    bar.shown = -1;
    bar.file[0] = '\0';
}

static void on_log(void *ctx, hub_log_level level, const char *msg)
{
    (void)ctx;
    end_bar();
    fprintf(stderr, "%s: %s%s\n", bar.prog, level == HUB_LOG_WARN ? "warning: " : "", msg);
}

static void on_progress(void *ctx, const char *file, long long done, long long total)
{
    (void)ctx;
    if (strcmp(file, bar.file) != 0) {
        end_bar();
        snprintf(bar.file, sizeof bar.file, "%s", file);
    }
    int pm = total > 0 ? (int)(done * 1000 / total) : 0;
    if (pm == bar.shown)
        return;
    bar.shown = pm;
    char cells[31];
    int full = pm * 30 / 1000;
    for (int i = 0; i < 30; i++)
        cells[i] = i < full ? '#' : ' ';
    cells[30] = '\0';
    fprintf(stderr, "\r%s: %-26s [%s] %5.1f%% %7.1f / %.1f MB", bar.prog, bar.file, cells, pm / 10.0,
            done / 1048576.0, total / 1048576.0);
    if (pm == 1000)
        end_bar();
    fflush(stderr);
}

void hub_progress_attach(hub_options *o, const char *prog)
{
    bar.prog = prog;
    o->log = on_log;
    o->progress = isatty(STDERR_FILENO) ? on_progress : NULL;
}
