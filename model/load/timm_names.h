/* timm_names.h — timm's own model names ("deit_base_patch16_224", "vit_base_patch16_224.augreg_in1k")
 * read as the hub repos timm fetches their pretrained weights from (timm/ARCH.TAG), for the
 * architectures this engine serves. Pure functions over a constant table: thread-safe. */
#ifndef DEIT_TIMM_NAMES_H
#define DEIT_TIMM_NAMES_H

#include <stddef.h>

#include "hub_internal.h"

/* The pretrained tag timm uses for `arch` (n bytes, no NUL needed) when none is given, or NULL when
 * arch is not in the table. */
const char *timm_default_tag(const char *arch, size_t n);

/* Reads spec as timm reads a model name: "ARCH" (the architecture's default tag) or "ARCH.TAG",
 * ARCH one in the table. Fills *ref with the hub repo timm/ARCH.TAG at revision main (validated by
 * hub_ref_parse, so TAG holds only what a hub name may). 0, or -1 when spec is no such name (then it
 * is a path): an unknown ARCH, an empty or malformed TAG, any '/' or '@' (timm takes no revision
 * after a bare name: "hf-hub:timm/ARCH.TAG@REV" does that). */
int timm_name_ref(const char *spec, hub_ref *ref);

/* For a path that does not exist: when spec looks like a timm ViT/DeiT name ("deit" or "vit" first,
 * "_patch" inside, no '/'), writes the hub id that would name its weights ("hf://timm/NAME.TAG...")
 * into out and returns 1; otherwise, or when that id is none hub_ref_parse takes (an empty tag,
 * "..", an empty revision), 0. */
int timm_name_suggest(const char *spec, char *out, size_t cap);

#endif
