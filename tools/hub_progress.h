/* hub_progress.h — what the command-line tools show while a hub model downloads (stderr). */
#ifndef DEIT_HUB_PROGRESS_H
#define DEIT_HUB_PROGRESS_H

#include "hub.h"

/* Sets o->log (one "prog: message" line each) and, when stderr is a terminal, o->progress (a bar
 * redrawn in place). prog must outlive the downloads. */
void hub_progress_attach(hub_options *o, const char *prog);

#endif
