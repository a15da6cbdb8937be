/* timm_names.h — timm's own model names ("deit_base_patch16_224", "vit_base_patch16_224.augreg_in1k",
 * deprecated ones such as "vit_base_patch16_224_in21k") read as the hub repos timm fetches their
 * pretrained weights from (timm/ARCH.TAG), for the architectures this engine serves. Pure functions
 * over constant tables: thread-safe. */
#ifndef DEIT_TIMM_NAMES_H
#define DEIT_TIMM_NAMES_H

#include <stddef.h>

#include "hub_internal.h"

/* The pretrained tag timm uses for `arch` (n bytes, no NUL needed) when none is given, or NULL when
 * arch is not in the table. */
const char *timm_default_tag(const char *arch, size_t n);

/* timm's current name ("ARCH.TAG", ARCH one in the table) for the deprecated model name `name` (n
 * bytes, no NUL needed), or NULL when name is not one timm deprecates or one this engine does not
 * read. */
const char *timm_deprecated_name(const char *name, size_t n);

/* The i-th deprecated name timm lists, *current set as timm_deprecated_name sets it; NULL past the
 * end (for tests and listings). */
const char *timm_deprecated_at(size_t i, const char **current);

/* Reads spec as timm reads a model name: "ARCH" (the architecture's default tag) or "ARCH.TAG",
 * ARCH one in the table, or a deprecated name: "OLD" (its current ARCH.TAG) or "OLD.TAG" (the
 * current ARCH with that TAG, as timm does). Fills *ref with the hub repo timm/ARCH.TAG at revision
 * main (validated by hub_ref_parse, so TAG holds only what a hub name may). 0, or -1 when spec is no
 * such name (then it is a path): an unknown ARCH, an empty or malformed TAG, any '/' or '@' (timm
 * takes no revision after a bare name: "hf-hub:timm/ARCH.TAG@REV" does that). */
int timm_name_ref(const char *spec, hub_ref *ref);

/* For a path that does not exist: when spec looks like a timm ViT/DeiT name ("deit" or "vit" first,
 * "_patch" inside, no '/'), writes the hub id that would name its weights ("hf://timm/NAME.TAG...";
 * for a deprecated name its current name's) into out and returns 1; otherwise, or when that id is
 * none hub_ref_parse takes (an empty tag, "..", an empty revision), or for a deprecated name the
 * engine does not read (no repo bears the old name), 0. */
int timm_name_suggest(const char *spec, char *out, size_t cap);

#endif
