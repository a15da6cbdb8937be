/* timm_names.c — timm model names (ARCH, ARCH.TAG, deprecated names) made hub ids (timm/ARCH.TAG):
 * the table of architectures this engine serves and the pretrained tag timm picks for each when none
 * is given, and the table of timm's deprecated names with the current ARCH.TAG timm maps each to. */
#include "timm_names.h"

#include <stdio.h>
#include <string.h>

/* Read from huggingface/pytorch-image-models (facts only, no code):
 *   timm/models/deit.py               at 7479d451a6dfd8af27f941b8e82a7402461fae80
 *   timm/models/vision_transformer.py at 94567641e33d5c16b2262ccbec33f2a603e612ed
 * The rule is timm's generate_default_cfgs (timm/models/_registry.py): an architecture's default tag
 * is the first one listed for it in the module's default_cfgs that has weights (a url, file or
 * hf_hub_id; an entry without a tag or a tag ending in '*' would come first, and none of these has
 * one). Every default below has hf_hub_id 'timm/', which register_model completes to timm/ARCH.TAG.
 *
 * Listed: the DeiT-1 models with weights, the DeiT III models (deit3_*: the same four arguments plus
 * no_embed_class and layer scale, which config_timm.c implies from the name and weights.c folds at
 * load; each one's first tag, fb_in1k, has weights, fb_in22k_ft_in1k coming second), and each plain
 * ViT whose model function passes nothing but patch_size, embed_dim, depth and num_heads
 * (config_timm.c decodes exactly those names).
 * vit_base_patch16_384's first entry, augreg2_in21k_ft_in1k, has no weights, so its default is the
 * next one. Left out:
 *   vit_large_patch14_224, vit_giant_patch14_224, vit_gigantic_patch14_224: only "untrained".
 *   vit_small_patch8_224 (.dino), vit_large_patch32_224 and vit_huge_patch14_224 (.orig_in21k): the
 *   default weights have no classifier (num_classes=0), which the loader refuses (tensor_facts.c).
 *   *_clip_*, *_dinov2, *_gap_*, *_reg4_*, *_siglip_*...: no class token, register tokens, other
 *   pooling or norms; the engine does not compute them. */
static const struct {
    const char *arch;
    const char *tag;
} TIMM_DEFAULTS[] = {
    /* deit.py: every DeiT-1 model's only tag */
    {"deit_tiny_patch16_224", "fb_in1k"},
    {"deit_small_patch16_224", "fb_in1k"},
    {"deit_base_patch16_224", "fb_in1k"},
    {"deit_base_patch16_384", "fb_in1k"},
    {"deit_tiny_distilled_patch16_224", "fb_in1k"},
    {"deit_small_distilled_patch16_224", "fb_in1k"},
    {"deit_base_distilled_patch16_224", "fb_in1k"},
    {"deit_base_distilled_patch16_384", "fb_in1k"},
    /* deit.py: DeiT III, fb_in1k listed first for each (then fb_in22k_ft_in1k) */
    {"deit3_small_patch16_224", "fb_in1k"},
    {"deit3_small_patch16_384", "fb_in1k"},
    {"deit3_medium_patch16_224", "fb_in1k"},
    {"deit3_base_patch16_224", "fb_in1k"},
    {"deit3_base_patch16_384", "fb_in1k"},
    {"deit3_large_patch16_224", "fb_in1k"},
    {"deit3_large_patch16_384", "fb_in1k"},
    {"deit3_huge_patch14_224", "fb_in1k"},
    /* vision_transformer.py */
    {"vit_tiny_patch16_224", "augreg_in21k_ft_in1k"},
    {"vit_tiny_patch16_384", "augreg_in21k_ft_in1k"},
    {"vit_small_patch32_224", "augreg_in21k_ft_in1k"},
    {"vit_small_patch32_384", "augreg_in21k_ft_in1k"},
    {"vit_small_patch16_224", "augreg_in21k_ft_in1k"},
    {"vit_small_patch16_384", "augreg_in21k_ft_in1k"},
    {"vit_base_patch32_224", "augreg_in21k_ft_in1k"},
    {"vit_base_patch32_384", "augreg_in21k_ft_in1k"},
    {"vit_base_patch16_224", "augreg2_in21k_ft_in1k"},
    {"vit_base_patch16_384", "augreg_in21k_ft_in1k"},
    {"vit_base_patch8_224", "augreg2_in21k_ft_in1k"},
    {"vit_large_patch32_384", "orig_in21k_ft_in1k"},
    {"vit_large_patch16_224", "augreg_in21k_ft_in1k"},
    {"vit_large_patch16_384", "augreg_in21k_ft_in1k"},
};

/* timm's deprecated model names (register_model_deprecations at the end of the same two files): timm
 * still creates each one, with a warning, as the current ARCH.TAG, and old timm code is full of them.
 * A name given with a tag of its own keeps it: timm's _deprecated_model_shim passes the tag the name
 * carries ('pretrained_cfg or current_tag'), so "deit3_base_patch16_224_in21ft1k.fb_in1k" is
 * deit3_base_patch16_224.fb_in1k (read in timm/models/_registry.py at 0d5c5c39fc9d and _factory.py
 * at 0173a139a2c6, the stored versions: create_model splits the tag off first).
 * current is NULL where the engine does not read the name; timm's target is in the comment. Those
 * stay paths, but timm_name_suggest knows them, so a missing one is not hinted a repo named after
 * the old name, which does not exist. Every target that is read has hf_hub_id 'timm/' and an
 * architecture of TIMM_DEFAULTS (test_timm_names checks the latter). */
static const struct {
    const char *name;
    const char *current;
} TIMM_DEPRECATED[] = {
    /* deit.py */
    {"deit3_small_patch16_224_in21ft1k", "deit3_small_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_small_patch16_384_in21ft1k", "deit3_small_patch16_384.fb_in22k_ft_in1k"},
    {"deit3_medium_patch16_224_in21ft1k", "deit3_medium_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_base_patch16_224_in21ft1k", "deit3_base_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_base_patch16_384_in21ft1k", "deit3_base_patch16_384.fb_in22k_ft_in1k"},
    {"deit3_large_patch16_224_in21ft1k", "deit3_large_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_large_patch16_384_in21ft1k", "deit3_large_patch16_384.fb_in22k_ft_in1k"},
    {"deit3_huge_patch14_224_in21ft1k", "deit3_huge_patch14_224.fb_in22k_ft_in1k"},
    /* vision_transformer.py: ImageNet-21k heads (num_classes=21843) */
    {"vit_tiny_patch16_224_in21k", "vit_tiny_patch16_224.augreg_in21k"},
    {"vit_small_patch32_224_in21k", "vit_small_patch32_224.augreg_in21k"},
    {"vit_small_patch16_224_in21k", "vit_small_patch16_224.augreg_in21k"},
    {"vit_base_patch32_224_in21k", "vit_base_patch32_224.augreg_in21k"},
    {"vit_base_patch16_224_in21k", "vit_base_patch16_224.augreg_in21k"},
    {"vit_base_patch8_224_in21k", "vit_base_patch8_224.augreg_in21k"},
    {"vit_large_patch16_224_in21k", "vit_large_patch16_224.augreg_in21k"},
    /* not read: weights without a classifier (num_classes=0), which the loader refuses */
    {"vit_large_patch32_224_in21k", NULL}, /* vit_large_patch32_224.orig_in21k */
    {"vit_huge_patch14_224_in21k", NULL},  /* vit_huge_patch14_224.orig_in21k */
    {"vit_small_patch16_224_dino", NULL},  /* vit_small_patch16_224.dino */
    {"vit_small_patch8_224_dino", NULL},   /* vit_small_patch8_224.dino */
    {"vit_base_patch16_224_dino", NULL},   /* vit_base_patch16_224.dino */
    {"vit_base_patch8_224_dino", NULL},    /* vit_base_patch8_224.dino */
    /* not read: default_cfgs lists these weights as sam_in1k, not sam, so timm itself refuses the
     * target ('Invalid pretrained tag (sam)') and no timm/ARCH.sam repo exists */
    {"vit_base_patch32_224_sam", NULL}, /* vit_base_patch32_224.sam */
    {"vit_base_patch16_224_sam", NULL}, /* vit_base_patch16_224.sam */
    /* not read: architectures the engine does not compute (qkv without bias; CLIP towers, whose
     * laion2b weights are not even in timm/) */
    {"vit_base_patch16_224_miil_in21k", NULL},    /* vit_base_patch16_224_miil.in21k */
    {"vit_base_patch32_224_clip_laion2b", NULL},  /* vit_base_patch32_clip_224.laion2b */
    {"vit_large_patch14_224_clip_laion2b", NULL}, /* vit_large_patch14_clip_224.laion2b */
    {"vit_huge_patch14_224_clip_laion2b", NULL},  /* vit_huge_patch14_clip_224.laion2b */
    {"vit_giant_patch14_224_clip_laion2b", NULL}, /* vit_giant_patch14_clip_224.laion2b */
};

const char *timm_default_tag(const char *arch, size_t n)
{
    for (size_t i = 0; i < sizeof TIMM_DEFAULTS / sizeof *TIMM_DEFAULTS; i++)
        if (strlen(TIMM_DEFAULTS[i].arch) == n && memcmp(TIMM_DEFAULTS[i].arch, arch, n) == 0)
            return TIMM_DEFAULTS[i].tag;
    return NULL;
}

/* 1 when timm deprecates name (n bytes), *current set to its current ARCH.TAG (NULL: not read). */
static int deprecated_find(const char *name, size_t n, const char **current)
{
    for (size_t i = 0; i < sizeof TIMM_DEPRECATED / sizeof *TIMM_DEPRECATED; i++)
        if (strlen(TIMM_DEPRECATED[i].name) == n && memcmp(TIMM_DEPRECATED[i].name, name, n) == 0) {
            *current = TIMM_DEPRECATED[i].current;
            return 1;
        }
    return 0;
}

const char *timm_deprecated_name(const char *name, size_t n)
{
    const char *current = NULL;
    return deprecated_find(name, n, &current) ? current : NULL;
}

const char *timm_deprecated_at(size_t i, const char **current)
{
    if (i >= sizeof TIMM_DEPRECATED / sizeof *TIMM_DEPRECATED)
        return NULL;
    *current = TIMM_DEPRECATED[i].current;
    return TIMM_DEPRECATED[i].name;
}

/* What timm reads spec's first al bytes (its name, before any tag) as: the architecture *arch
 * (*archl bytes) and the tag *tag it takes when spec gives none. An ARCH of TIMM_DEFAULTS is itself
 * with its default tag; a deprecated name is its current ARCH.TAG. 0, or -1 when the bytes are
 * neither. */
static int timm_arch(const char *spec, size_t al, const char **arch, size_t *archl, const char **tag)
{
    const char *def = timm_default_tag(spec, al), *cur = def ? NULL : timm_deprecated_name(spec, al);
    if (!def && !cur)
        return -1;
    *arch = def ? spec : cur;
    *archl = def ? al : strcspn(cur, ".");
    *tag = def ? def : cur + *archl + 1;
    return 0;
}

int timm_name_ref(const char *spec, hub_ref *ref)
{
    /* '/' would make it ORG/NAME or a path, '@' a revision timm does not take here */
    if (!spec || strpbrk(spec, "/@"))
        return -1;
    size_t n = strlen(spec);
    if (n == 0 || n > 96)
        return -1;
    size_t al = strcspn(spec, ".");
    const char *arch, *tag;
    size_t archl;
    if (timm_arch(spec, al, &arch, &archl, &tag) != 0 || (al < n && !spec[al + 1]))
        return -1;
    if (al < n) /* a tag of its own wins, a deprecated name's too (timm: 'pretrained_cfg or current_tag') */
        tag = spec + al + 1;
    char repo[160];
    char err[256];
    snprintf(repo, sizeof repo, "timm/%.*s.%s", (int)archl, arch, tag);
    return hub_ref_parse(repo, 1, ref, err, sizeof err) == 0 ? 0 : -1;
}

int timm_name_suggest(const char *spec, char *out, size_t cap)
{
    if (!spec || !cap || (strncmp(spec, "deit", 4) != 0 && strncmp(spec, "vit", 3) != 0) ||
        !strstr(spec, "_patch") || strchr(spec, '/'))
        return 0;
    size_t bl = strcspn(spec, "@"), al = strcspn(spec, ".@");
    const char *rev = spec + bl; /* "" or "@REV", kept as written */
    const char *arch, *tag, *current;
    size_t archl;
    /* A deprecated name: its current name's repo, or no hint at all when the engine does not read it
     * (no repo bears the old name). */
    if (deprecated_find(spec, al, &current) && !current)
        return 0;
    if (timm_arch(spec, al, &arch, &archl, &tag) != 0) { /* in neither table: a placeholder tag */
        arch = spec;
        archl = al;
        tag = "TAG";
    }
    int w;
    if (al < bl) /* a tag of its own */
        w = snprintf(out, cap, "hf://timm/%.*s%s", (int)archl, arch, spec + al);
    else
        w = snprintf(out, cap, "hf://timm/%.*s.%s%s", (int)archl, arch, tag, rev);
    /* Only an id hf:// takes: a hint the user copies must not meet "is not a hub model id" (an
     * empty tag, "..", a space, an empty revision...). */
    hub_ref ref;
    char err[256];
    return w >= 0 && (size_t)w < cap && hub_ref_parse(out + 5, 1, &ref, err, sizeof err) == 0;
}
