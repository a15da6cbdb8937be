/* cli_model.h — how the command-line tools read their model argument: a folder, a file or a hub id,
 * resolved with the hub settings from the environment (DEIT_HUB_*). */
#ifndef DEIT_CLI_MODEL_H
#define DEIT_CLI_MODEL_H

#include "hub.h"

/* Resolves spec into *src (for a hub id: the snapshot is made complete in the cache, downloads
 * capped at max_mb MiB and shown on stderr as prog's). On failure prints "prog: cannot load model:
 * why" on stderr and returns nonzero. */
int cli_model_resolve(const char *prog, const char *spec, long max_mb, model_source *src);

#endif
