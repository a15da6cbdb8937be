/* timm_names.c — timm model names (ARCH, ARCH.TAG) made hub ids (timm/ARCH.TAG): the table of
 * architectures this engine serves and the pretrained tag timm picks for each when none is given. */
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

const char *timm_default_tag(const char *arch, size_t n)
{
    for (size_t i = 0; i < sizeof TIMM_DEFAULTS / sizeof *TIMM_DEFAULTS; i++)
        if (strlen(TIMM_DEFAULTS[i].arch) == n && memcmp(TIMM_DEFAULTS[i].arch, arch, n) == 0)
            return TIMM_DEFAULTS[i].tag;
    return NULL;
}

int timm_name_ref(const char *spec, hub_ref *ref)
{
    /* '/' would make it ORG/NAME or a path, '@' a revision timm does not take here */
    if (!spec || strpbrk(spec, "/@"))
        return -1;
    size_t n = strlen(spec);
    if (n == 0 || n > 96)
        return -1;
    const char *dot = memchr(spec, '.', n);
    size_t al = dot ? (size_t)(dot - spec) : n;
    const char *tag = timm_default_tag(spec, al);
    if (!tag || (dot && !dot[1]))
        return -1;
    char repo[128];
    char err[256];
    if (dot)
        snprintf(repo, sizeof repo, "timm/%s", spec);
    else
        snprintf(repo, sizeof repo, "timm/%s.%s", spec, tag);
    return hub_ref_parse(repo, 1, ref, err, sizeof err) == 0 ? 0 : -1;
}

int timm_name_suggest(const char *spec, char *out, size_t cap)
{
    if (!spec || !cap || (strncmp(spec, "deit", 4) != 0 && strncmp(spec, "vit", 3) != 0) ||
        !strstr(spec, "_patch") || strchr(spec, '/'))
        return 0;
    size_t bl = strcspn(spec, "@"), al = strcspn(spec, ".@");
    const char *rev = spec + bl; /* "" or "@REV", kept as written */
    const char *tag = timm_default_tag(spec, al);
    int w;
    if (al < bl) /* a tag of its own */
        w = snprintf(out, cap, "hf://timm/%s", spec);
    else
        w = snprintf(out, cap, "hf://timm/%.*s.%s%s", (int)al, spec, tag ? tag : "TAG", rev);
    /* Only an id hf:// takes: a hint the user copies must not meet "is not a hub model id" (an
     * empty tag, "..", a space, an empty revision...). */
    hub_ref ref;
    char err[256];
    return w >= 0 && (size_t)w < cap && hub_ref_parse(out + 5, 1, &ref, err, sizeof err) == 0;
}
