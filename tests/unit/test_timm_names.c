/* test_timm_names.c — timm's model names as --model reads them: the table of default tags (against
 * what timm's default_cfgs list), ARCH / ARCH.TAG made timm/ARCH.TAG, timm's deprecated names (against
 * its register_model_deprecations) made their current ARCH.TAG, names that must stay paths,
 * the hint for a timm-like path that does not exist, and model_source_classify / _resolve over all
 * of it (offline, an empty cache: no request is made). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "hub.h"
#include "status.h"
#include "timm_names.h"

static char logged[1024];
static void on_log(void *ctx, hub_log_level level, const char *msg)
{
    (void)ctx;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s%s\n", level == HUB_LOG_WARN ? "warning: " : "", msg);
}

static const char *tag_of(const char *arch) { return timm_default_tag(arch, strlen(arch)); }

static void test_table(void)
{
    /* deit.py: the DeiT-1 models' one tag */
    CHECK_STR_EQ(tag_of("deit_tiny_distilled_patch16_224"), "fb_in1k");
    CHECK_STR_EQ(tag_of("deit_base_patch16_384"), "fb_in1k");
    CHECK_STR_EQ(tag_of("deit_base_distilled_patch16_384"), "fb_in1k");
    /* vision_transformer.py: the first tag with weights */
    CHECK_STR_EQ(tag_of("vit_base_patch16_224"), "augreg2_in21k_ft_in1k");
    CHECK_STR_EQ(tag_of("vit_base_patch16_384"), "augreg_in21k_ft_in1k"); /* its augreg2 entry has none */
    CHECK_STR_EQ(tag_of("vit_base_patch8_224"), "augreg2_in21k_ft_in1k");
    CHECK_STR_EQ(tag_of("vit_tiny_patch16_224"), "augreg_in21k_ft_in1k");
    CHECK_STR_EQ(tag_of("vit_large_patch32_384"), "orig_in21k_ft_in1k");
    /* deit.py: DeiT III, fb_in1k listed first for every one (medium and huge included) */
    const char *deit3[] = {"deit3_small_patch16_224", "deit3_small_patch16_384", "deit3_medium_patch16_224",
                           "deit3_base_patch16_224",  "deit3_base_patch16_384",  "deit3_large_patch16_224",
                           "deit3_large_patch16_384", "deit3_huge_patch14_224"};
    for (size_t i = 0; i < sizeof deit3 / sizeof *deit3; i++)
        CHECK_MSG(tag_of(deit3[i]) && strcmp(tag_of(deit3[i]), "fb_in1k") == 0, "%s", deit3[i]);
    /* not in the table: no weights timm would pick, none with a head, or not a plain ViT/DeiT */
    const char *absent[] = {"deit_tiny_patch16_384", "deit3_medium_patch16_384", "deit3_huge_patch14_384",
                            "deit3_tiny_patch16_224", "vit_huge_patch14_224",
                            "vit_small_patch8_224", "vit_large_patch32_224", "vit_large_patch14_224",
                            "vit_so400m_patch14_siglip_384", "vit_base_patch16_clip_224", "", "deit"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        CHECK_MSG(tag_of(absent[i]) == NULL, "\"%s\" has a default tag", absent[i]);
    /* n bytes, not up to a NUL: the architecture part of "ARCH.TAG" */
    CHECK_STR_EQ(timm_default_tag("deit_small_patch16_224.fb_in1k", 22), "fb_in1k");
    CHECK(timm_default_tag("deit_small_patch16_224", 21) == NULL);
}

static void test_parse(void)
{
    hub_ref r;
    CHECK_INT_EQ(timm_name_ref("deit_tiny_distilled_patch16_224", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/deit_tiny_distilled_patch16_224.fb_in1k");
    CHECK_STR_EQ(r.name, "deit_tiny_distilled_patch16_224.fb_in1k");
    CHECK_STR_EQ(r.folder, "models--timm--deit_tiny_distilled_patch16_224.fb_in1k");
    CHECK_STR_EQ(r.revision, "main");
    CHECK_INT_EQ(timm_name_ref("vit_base_patch16_224", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k");
    /* a tag of its own, kept (timm would refuse one it does not list; the hub answers for it here) */
    CHECK_INT_EQ(timm_name_ref("vit_base_patch16_224.augreg_in1k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/vit_base_patch16_224.augreg_in1k");
    CHECK_INT_EQ(timm_name_ref("deit_base_patch16_224.my-tag.v2", &r), 0);
    CHECK_STR_EQ(r.name, "deit_base_patch16_224.my-tag.v2");
    CHECK_INT_EQ(timm_name_ref("deit3_base_patch16_224", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/deit3_base_patch16_224.fb_in1k");
    CHECK_INT_EQ(timm_name_ref("deit3_huge_patch14_224.fb_in22k_ft_in1k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/deit3_huge_patch14_224.fb_in22k_ft_in1k");
    /* paths and other names */
    const char *not_timm[] = {"weights.safetensors", "mymodel", "vit_base_patch16_clip_224",
                              "vit_base_patch16_clip_224.openai", "deit_tiny_distilled_patch16_224.",
                              "deit_tiny_distilled_patch16_224..x", "deit_tiny_distilled_patch16_224.a--b",
                              "deit_tiny_distilled_patch16_224@main",
                              "deit_tiny_distilled_patch16_224.fb_in1k@v1", "./deit_tiny_distilled_patch16_224",
                              "timm/deit_tiny_distilled_patch16_224", "deit_tiny_distilled_patch16_224.a b",
                              "deit_tiny_distilled_patch16_224.a/b", "deit_tiny_distilled_patch16_224.-",
                              ".fb_in1k", "", "DEIT_TINY_DISTILLED_PATCH16_224",
                              "deit_tiny_distilled_patch16_224.0123456789012345678901234567890123456789"
                              "0123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof not_timm / sizeof *not_timm; i++)
        CHECK_MSG(timm_name_ref(not_timm[i], &r) == -1, "\"%s\" read as a timm name", not_timm[i]);
    CHECK_INT_EQ(timm_name_ref(NULL, &r), -1);
}

static void test_suggest(void)
{
    char s[256];
    CHECK_INT_EQ(timm_name_suggest("vit_base_patch16_clip_224", s, sizeof s), 1);
    CHECK_STR_EQ(s, "hf://timm/vit_base_patch16_clip_224.TAG");
    CHECK_INT_EQ(timm_name_suggest("vit_base_patch16_clip_224.openai", s, sizeof s), 1);
    CHECK_STR_EQ(s, "hf://timm/vit_base_patch16_clip_224.openai");
    CHECK_INT_EQ(timm_name_suggest("deit3_base_patch16_224", s, sizeof s), 1);
    CHECK_STR_EQ(s, "hf://timm/deit3_base_patch16_224.fb_in1k");
    CHECK_INT_EQ(timm_name_suggest("deit_tiny_distilled_patch16_224@v1", s, sizeof s), 1);
    CHECK_STR_EQ(s, "hf://timm/deit_tiny_distilled_patch16_224.fb_in1k@v1");
    CHECK_INT_EQ(timm_name_suggest("vit_so400m_patch14_siglip_384", s, sizeof s), 1);
    const char *plain[] = {"weights.safetensors", "mymodel", "models/deit_base_patch16_224", "deit_base",
                           "resnet50_patch16", ""};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        CHECK_MSG(timm_name_suggest(plain[i], s, sizeof s) == 0, "hint for \"%s\"", plain[i]);
    CHECK_INT_EQ(timm_name_suggest("vit_base_patch16_clip_224", s, 10), 0); /* does not fit: no hint */
    /* a hint names only an id the hub scheme takes: writing it must not meet "is not a hub model id" */
    const char *odd[] = {"deit_tiny_distilled_patch16_224.", "deit_tiny_distilled_patch16_224..x",
                         "deit_tiny_distilled_patch16_224.a b", "vit_base_patch16_clip_224.a--b",
                         "vit_base_patch16_clip_224.-", "deit3_base_patch16_224@", "deit3_base_patch16_224@..",
                         "vit_base_patch16_clip_224 ", "deit_patch\n"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        hub_ref r;
        char perr[512];
        if (timm_name_suggest(odd[i], s, sizeof s))
            CHECK_MSG(strncmp(s, "hf://", 5) == 0 && hub_ref_parse(s + 5, 1, &r, perr, sizeof perr) == 0,
                      "hint for \"%s\": %s", odd[i], s);
    }
}

/* timm's register_model_deprecations, name for name (deit.py at 7479d451a6df, vision_transformer.py
 * at 94567641e33d); NULL where the engine does not read the name (timm_names.c says why). */
static const char *const DEPRECATED[][2] = {
    {"deit3_small_patch16_224_in21ft1k", "deit3_small_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_small_patch16_384_in21ft1k", "deit3_small_patch16_384.fb_in22k_ft_in1k"},
    {"deit3_medium_patch16_224_in21ft1k", "deit3_medium_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_base_patch16_224_in21ft1k", "deit3_base_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_base_patch16_384_in21ft1k", "deit3_base_patch16_384.fb_in22k_ft_in1k"},
    {"deit3_large_patch16_224_in21ft1k", "deit3_large_patch16_224.fb_in22k_ft_in1k"},
    {"deit3_large_patch16_384_in21ft1k", "deit3_large_patch16_384.fb_in22k_ft_in1k"},
    {"deit3_huge_patch14_224_in21ft1k", "deit3_huge_patch14_224.fb_in22k_ft_in1k"},
    {"vit_tiny_patch16_224_in21k", "vit_tiny_patch16_224.augreg_in21k"},
    {"vit_small_patch32_224_in21k", "vit_small_patch32_224.augreg_in21k"},
    {"vit_small_patch16_224_in21k", "vit_small_patch16_224.augreg_in21k"},
    {"vit_base_patch32_224_in21k", "vit_base_patch32_224.augreg_in21k"},
    {"vit_base_patch16_224_in21k", "vit_base_patch16_224.augreg_in21k"},
    {"vit_base_patch8_224_in21k", "vit_base_patch8_224.augreg_in21k"},
    {"vit_large_patch32_224_in21k", NULL},
    {"vit_large_patch16_224_in21k", "vit_large_patch16_224.augreg_in21k"},
    {"vit_huge_patch14_224_in21k", NULL},
    {"vit_base_patch32_224_sam", NULL},
    {"vit_base_patch16_224_sam", NULL},
    {"vit_small_patch16_224_dino", NULL},
    {"vit_small_patch8_224_dino", NULL},
    {"vit_base_patch16_224_dino", NULL},
    {"vit_base_patch8_224_dino", NULL},
    {"vit_base_patch16_224_miil_in21k", NULL},
    {"vit_base_patch32_224_clip_laion2b", NULL},
    {"vit_large_patch14_224_clip_laion2b", NULL},
    {"vit_huge_patch14_224_clip_laion2b", NULL},
    {"vit_giant_patch14_224_clip_laion2b", NULL},
};

static void test_deprecated(void)
{
    enum { N = sizeof DEPRECATED / sizeof *DEPRECATED };
    hub_ref r;
    char s[256];
    /* every entry of the table is timm's, and each one read names an architecture of the default-tag
     * table with a tag of its own: the current name timm maps it to, kept whole */
    size_t n = 0, served = 0;
    const char *name, *cur;
    for (; (name = timm_deprecated_at(n, &cur)) != NULL; n++) {
        size_t k = 0;
        while (k < N && strcmp(DEPRECATED[k][0], name) != 0)
            k++;
        CHECK_MSG(k < N, "%s is not one of timm's deprecated names", name);
        if (k == N)
            continue;
        CHECK_MSG(cur ? DEPRECATED[k][1] && strcmp(cur, DEPRECATED[k][1]) == 0 : !DEPRECATED[k][1],
                  "%s -> %s", name, cur ? cur : "(not read)");
        CHECK_MSG(tag_of(name) == NULL, "%s is in the default-tag table too", name);
        if (!cur) {
            CHECK_MSG(timm_name_ref(name, &r) == -1, "%s read as a timm name", name);
            CHECK_MSG(timm_name_suggest(name, s, sizeof s) == 0, "hint for %s: %s", name, s);
            continue;
        }
        served++;
        size_t al = strcspn(cur, ".");
        CHECK_MSG(timm_default_tag(cur, al) != NULL && cur[al] == '.' && cur[al + 1],
                  "%s -> %s: not ARCH.TAG of an architecture in the table", name, cur);
        CHECK_MSG(timm_name_ref(name, &r) == 0 && strncmp(r.repo, "timm/", 5) == 0 &&
                      strcmp(r.repo + 5, cur) == 0 && strcmp(r.name, cur) == 0 && strcmp(r.revision, "main") == 0,
                  "%s -> %s", name, r.repo);
    }
    CHECK_INT_EQ(n, N);
    CHECK_INT_EQ(served, 15);
    /* spot values, as timm writes them */
    CHECK_INT_EQ(timm_name_ref("deit3_base_patch16_224_in21ft1k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/deit3_base_patch16_224.fb_in22k_ft_in1k");
    CHECK_STR_EQ(r.folder, "models--timm--deit3_base_patch16_224.fb_in22k_ft_in1k");
    CHECK_INT_EQ(timm_name_ref("vit_base_patch16_224_in21k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/vit_base_patch16_224.augreg_in21k");
    CHECK_INT_EQ(timm_name_ref("deit3_huge_patch14_224_in21ft1k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/deit3_huge_patch14_224.fb_in22k_ft_in1k");
    CHECK_INT_EQ(timm_name_ref("vit_large_patch16_224_in21k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/vit_large_patch16_224.augreg_in21k");
    CHECK_STR_EQ(timm_deprecated_name("vit_tiny_patch16_224_in21k", 26), "vit_tiny_patch16_224.augreg_in21k");
    CHECK(timm_deprecated_name("vit_tiny_patch16_224_in21k", 25) == NULL); /* n bytes, not up to a NUL */
    CHECK(timm_deprecated_name("vit_base_patch16_224_dino", 25) == NULL);  /* timm's, not read */
    /* a tag of its own replaces the mapped one on the current architecture, as timm's shim does
     * (pretrained_cfg=TAG or current_tag) */
    CHECK_INT_EQ(timm_name_ref("deit3_base_patch16_224_in21ft1k.fb_in1k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/deit3_base_patch16_224.fb_in1k");
    CHECK_INT_EQ(timm_name_ref("vit_base_patch16_224_in21k.augreg2_in21k_ft_in1k", &r), 0);
    CHECK_STR_EQ(r.repo, "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k");
    CHECK_INT_EQ(timm_name_ref("deit3_base_patch16_224_in21ft1k.fb_in22k_ft_in1k", &r), 0);
    CHECK_STR_EQ(r.name, "deit3_base_patch16_224.fb_in22k_ft_in1k");
    /* near misses, malformed tags, revisions, tags on names not read: paths */
    const char *paths[] = {"deit3_base_patch16_224_in21ft1", "deit3_base_patch16_224_in21ft1k_",
                           "DEIT3_BASE_PATCH16_224_IN21FT1K", "vit_base_patch16_224_in21k ",
                           "vit_base_patch16_224_in22k", "vit_base_patch16_384_in21k", "vit_base_patch16_224_in21",
                           "deit3_base_patch16_224_in21ft1k.", "deit3_base_patch16_224_in21ft1k..x",
                           "deit3_base_patch16_224_in21ft1k.a--b", "deit3_base_patch16_224_in21ft1k@main",
                           "timm/deit3_base_patch16_224_in21ft1k", "./vit_base_patch16_224_in21k",
                           "vit_base_patch16_224_dino.x", "vit_base_patch16_224_sam", "_in21k", "in21ft1k"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        CHECK_MSG(timm_name_ref(paths[i], &r) == -1, "\"%s\" read as a timm name", paths[i]);
    /* hints: the current name's repo, never one named after the old name */
    CHECK_INT_EQ(timm_name_suggest("deit3_base_patch16_224_in21ft1k@v1", s, sizeof s), 1);
    CHECK_STR_EQ(s, "hf://timm/deit3_base_patch16_224.fb_in22k_ft_in1k@v1");
    CHECK_INT_EQ(timm_name_suggest("vit_base_patch16_224_in21k.augreg_in21k@v2", s, sizeof s), 1);
    CHECK_STR_EQ(s, "hf://timm/vit_base_patch16_224.augreg_in21k@v2");
    const char *none[] = {"vit_base_patch16_224_dino", "vit_base_patch16_224_sam@v1", "vit_huge_patch14_224_in21k.x",
                          "vit_base_patch32_224_clip_laion2b", "deit3_base_patch16_224_in21ft1k."};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        CHECK_MSG(timm_name_suggest(none[i], s, sizeof s) == 0, "hint for \"%s\": %s", none[i], s);
}

static void test_classify_resolve(void)
{
    char dir[] = "/tmp/deit-test-timm-XXXXXX", cwd[4096], err[1024];
    CHECK(mkdtemp(dir) != NULL);
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT_EQ(chdir(dir), 0);
    CHECK_INT_EQ(model_source_classify("deit_tiny_distilled_patch16_224"), MODEL_SOURCE_HUB);
    CHECK_INT_EQ(model_source_classify("deit_tiny_distilled_patch16_224.fb_in1k"), MODEL_SOURCE_HUB);
    CHECK_INT_EQ(model_source_classify("hf-hub:timm/deit_tiny_distilled_patch16_224.fb_in1k"), MODEL_SOURCE_HUB);
    CHECK_INT_EQ(model_source_classify("hf_hub:timm/x@v1"), MODEL_SOURCE_HUB);
    CHECK_INT_EQ(model_source_classify("vit_base_patch16_clip_224"), MODEL_SOURCE_PATH);
    CHECK_INT_EQ(model_source_classify("deit3_base_patch16_224"), MODEL_SOURCE_HUB);
    CHECK_INT_EQ(model_source_classify("weights.safetensors"), MODEL_SOURCE_PATH);
    CHECK_INT_EQ(model_source_classify("deit_tiny_distilled_patch16_224@main"), MODEL_SOURCE_PATH);
    /* a directory of that name wins */
    CHECK_INT_EQ(mkdir("deit_tiny_distilled_patch16_224", 0700), 0);
    CHECK_INT_EQ(model_source_classify("deit_tiny_distilled_patch16_224"), MODEL_SOURCE_PATH);

    hub_options o;
    hub_options_from_env(&o);
    snprintf(o.cache_dir, sizeof o.cache_dir, "%s/cache", dir);
    o.offline = 1;
    o.env_warnings[0] = '\0';
    o.log = on_log;
    model_source s;
    CHECK_INT_EQ(model_source_resolve("deit_tiny_distilled_patch16_224", &o, &s, err, sizeof err), 0);
    CHECK_INT_EQ(s.kind, MODEL_SOURCE_PATH);
    CHECK_STR_EQ(s.path, "deit_tiny_distilled_patch16_224");
    CHECK_STR_EQ(logged, "");
    rmdir("deit_tiny_distilled_patch16_224");
    /* read as timm/ARCH.TAG: logged, and the error says so */
    CHECK(model_source_resolve("deit_tiny_distilled_patch16_224", &o, &s, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "timm/deit_tiny_distilled_patch16_224.fb_in1k@main is not in the cache") &&
                  strstr(err, "so it was read as timm's model name for hub id "
                              "hf://timm/deit_tiny_distilled_patch16_224.fb_in1k)"), "%s", err);
    CHECK_MSG(strstr(logged, "deit_tiny_distilled_patch16_224 is timm's model name for "
                             "hf://timm/deit_tiny_distilled_patch16_224.fb_in1k"), "%s", logged);
    CHECK(model_source_resolve("vit_base_patch16_224.augreg_in1k", &o, &s, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "hf://timm/vit_base_patch16_224.augreg_in1k)"), "%s", err);
    /* the schemes: as hf://, no "read as" note */
    logged[0] = '\0';
    CHECK(model_source_resolve("hf-hub:timm/deit_base_patch16_224.fb_in1k@v2", &o, &s, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "timm/deit_base_patch16_224.fb_in1k@v2 is not in the cache") && !strstr(err, "read as"),
              "%s", err);
    CHECK(model_source_resolve("hf_hub:timm/deit_base_patch16_224.fb_in1k", &o, &s, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "timm/deit_base_patch16_224.fb_in1k@main is not in the cache"), "%s", err);
    CHECK(model_source_resolve("hf-hub:a--b/c", &o, &s, err, sizeof err) != 0 && strstr(err, "--"));
    CHECK_STR_EQ(logged, "");
    /* paths: a timm-like one that does not exist names the hub id; others pass through */
    CHECK_INT_EQ(model_source_resolve("vit_base_patch16_clip_224", &o, &s, err, sizeof err), DEIT_EIO);
    CHECK_MSG(strstr(err, "vit_base_patch16_clip_224: no such file or directory") &&
                  strstr(err, "hf://timm/vit_base_patch16_clip_224.TAG"), "%s", err);
    /* a deprecated name: a warning names the current one, and so does the error */
    logged[0] = '\0';
    CHECK_INT_EQ(model_source_classify("deit3_base_patch16_224_in21ft1k"), MODEL_SOURCE_HUB);
    CHECK(model_source_resolve("deit3_base_patch16_224_in21ft1k", &o, &s, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "timm/deit3_base_patch16_224.fb_in22k_ft_in1k@main is not in the cache") &&
                  strstr(err, "so it was read as timm's deprecated model name for hub id "
                              "hf://timm/deit3_base_patch16_224.fb_in22k_ft_in1k)"), "%s", err);
    CHECK_STR_EQ(logged, "warning: deit3_base_patch16_224_in21ft1k is timm's deprecated model name for "
                         "hf://timm/deit3_base_patch16_224.fb_in22k_ft_in1k (timm's current name: "
                         "deit3_base_patch16_224.fb_in22k_ft_in1k)\n");
    /* one timm deprecates but the engine does not read: a plain path, no hint */
    logged[0] = '\0';
    CHECK_INT_EQ(model_source_classify("vit_base_patch16_224_dino"), MODEL_SOURCE_PATH);
    CHECK_INT_EQ(model_source_resolve("vit_base_patch16_224_dino", &o, &s, err, sizeof err), 0);
    CHECK_INT_EQ(s.kind, MODEL_SOURCE_PATH);
    CHECK_STR_EQ(logged, "");
    CHECK_INT_EQ(model_source_resolve("weights.safetensors", &o, &s, err, sizeof err), 0);
    CHECK_INT_EQ(s.kind, MODEL_SOURCE_PATH);
    CHECK_STR_EQ(s.path, "weights.safetensors");
    CHECK_INT_EQ(chdir(cwd), 0);
    rmdir(dir);
}

int main(void)
{
    test_table();
    test_parse();
    test_suggest();
    test_deprecated();
    test_classify_resolve();
    return check_summary("test_timm_names");
}
