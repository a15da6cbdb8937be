/* test_timm_names.c — timm's model names as --model reads them: the table of default tags (against
 * what timm's default_cfgs list), ARCH / ARCH.TAG made timm/ARCH.TAG, names that must stay paths,
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
    (void)ctx, (void)level;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", msg);
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
    test_classify_resolve();
    return check_summary("test_timm_names");
}
