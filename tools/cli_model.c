/* cli_model.c — the model argument of deit-predict and deit-bench. */
#include "cli_model.h"

#include <stdio.h>

#include "deit.h"
#include "hub_progress.h"

int cli_model_resolve(const char *prog, const char *spec, long max_mb, model_source *src)
{
    char err[1024];
    hub_options ho;
    hub_options_from_env(&ho);
    ho.max_bytes = (long long)max_mb << 20;
    hub_progress_attach(&ho, prog);
    if (model_source_resolve(spec, &ho, src, err, sizeof err) != DEIT_OK) {
        fprintf(stderr, "%s: cannot load model: %s\n", prog, err);
        return 1;
    }
    return 0;
}
