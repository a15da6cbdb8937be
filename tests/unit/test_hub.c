/* test_hub.c — the hub's pure parts: repo ids and revisions (what may become a path), etags, URL
 * quoting, environment defaults, the cache's refs / links / absence markers, and --model's
 * classification. The network side is tested against the mock hub (tests/test_hub.sh). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "deit.h"
#include "hub_internal.h"

static void test_ref(void)
{
    hub_ref r;
    char err[256];
    CHECK_INT_EQ(hub_ref_parse("timm/deit_tiny_distilled_patch16_224.fb_in1k", 1, &r, err, sizeof err), 0);
    CHECK_STR_EQ(r.repo, "timm/deit_tiny_distilled_patch16_224.fb_in1k");
    CHECK_STR_EQ(r.name, "deit_tiny_distilled_patch16_224.fb_in1k");
    CHECK_STR_EQ(r.folder, "models--timm--deit_tiny_distilled_patch16_224.fb_in1k");
    CHECK_STR_EQ(r.revision, "main");
    CHECK_INT_EQ(hub_ref_parse("facebook/deit-base-distilled-patch16-224@refs/pr/1", 1, &r, err, sizeof err), 0);
    CHECK_STR_EQ(r.revision, "refs/pr/1");
    CHECK_INT_EQ(hub_ref_parse("gpt2", 0, &r, err, sizeof err), 0); /* hf://NAME: a legacy canonical id */
    CHECK_STR_EQ(r.folder, "models--gpt2");
    CHECK_INT_EQ(hub_ref_parse("gpt2", 1, &r, err, sizeof err), -1); /* bare: must be ORG/NAME */
    const char *bad[] = {"", "/x", "x/", "a/b/c", "a--b/c", "a/b..c", "-a/b", "a/b.", "a/b c", "a/b\n",
                         "a/b@", "a/b@..", "a/b@x/../y", "a/b@/x", "a/b@x//y", "a/b@x y", "a/b@.",
                         "a/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(hub_ref_parse(bad[i], 1, &r, err, sizeof err) == -1 && err[0], "accepted \"%s\"", bad[i]);
}

static void test_names(void)
{
    char out[200];
    CHECK(hub_is_commit("0123456789abcdef0123456789abcdef01234567"));
    CHECK(!hub_is_commit("0123456789ABCDEF0123456789abcdef01234567"));
    CHECK(!hub_is_commit("main"));
    CHECK(hub_is_sha256("853696beaf6f44de0270707fc549f2b46a21dd16f95fac6ce5149f34f0338d17"));
    CHECK_INT_EQ(hub_etag_normalize("W/\"abc123\"", out, sizeof out), 0);
    CHECK_STR_EQ(out, "abc123");
    CHECK_INT_EQ(hub_etag_normalize("\"e93cad7d8b5da26054429472c6ffc35858f670f7\"", out, sizeof out), 0);
    CHECK_STR_EQ(out, "e93cad7d8b5da26054429472c6ffc35858f670f7");
    CHECK_INT_EQ(hub_etag_normalize("\"../../etc/passwd\"", out, sizeof out), -1);
    CHECK_INT_EQ(hub_etag_normalize("\"a/b\"", out, sizeof out), -1);
    CHECK_INT_EQ(hub_etag_normalize("\"\"", out, sizeof out), -1);
    CHECK_INT_EQ(hub_url_quote("refs/pr/1", out, sizeof out), 0);
    CHECK_STR_EQ(out, "refs%2Fpr%2F1");
    CHECK_INT_EQ(hub_url_quote("v1.0_a-b~c", out, sizeof out), 0);
    CHECK_STR_EQ(out, "v1.0_a-b~c");
    CHECK_INT_EQ(hub_url_quote("a/b", out, 5), -1); /* does not fit: refused, not truncated */
}

static void test_env(void)
{
    hub_options o;
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_ENDPOINT");
    unsetenv("HF_TOKEN");
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    unsetenv("HF_TOKEN_PATH");
    unsetenv("HF_HUB_ETAG_TIMEOUT");
    setenv("HOME", "/home/u", 1);
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    setenv("HF_HUB_OFFLINE", "0", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.endpoint, "https://huggingface.co");
    CHECK_STR_EQ(o.cache_dir, "/home/u/.cache/huggingface/hub");
    CHECK_INT_EQ(o.offline, 0);
    CHECK_NEAR(o.etag_timeout_s, 10, 0);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "/xdg/huggingface/hub");
    setenv("HF_HOME", "/hf", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "/hf/hub");
    setenv("HF_HUB_CACHE", "/cache", 1);
    setenv("HF_ENDPOINT", "http://mirror:8080/", 1);
    setenv("HF_HUB_OFFLINE", "yes", 1);
    setenv("HF_HUB_ETAG_TIMEOUT", "2.5", 1);
    setenv("HF_TOKEN", "hf_abc", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "/cache");
    CHECK_STR_EQ(o.endpoint, "http://mirror:8080");
    CHECK_INT_EQ(o.offline, 1);
    CHECK_NEAR(o.etag_timeout_s, 2.5, 0);
    CHECK_STR_EQ(o.token, "hf_abc");
    setenv("HF_TOKEN", "hf_a\r\nX-Evil: 1", 1); /* would split the header line: dropped */
    setenv("HF_HUB_ETAG_TIMEOUT", "-1", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.token, "");
    CHECK_NEAR(o.etag_timeout_s, 10, 0);
    const char *vars[] = {"HF_HUB_CACHE", "HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_HUB_ETAG_TIMEOUT", "HF_TOKEN",
                          "HF_HOME", "XDG_CACHE_HOME"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void test_cache(void)
{
    char dir[] = "/tmp/deit-test-hub-XXXXXX", path[512], commit[41], err[256], target[256];
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    const char *c1 = "0123456789abcdef0123456789abcdef01234567";
    CHECK_INT_EQ(hub_cache_read_ref(dir, "main", commit), -1);
    CHECK_INT_EQ(hub_cache_write_ref(dir, "refs/pr/1", c1), 0);
    CHECK_INT_EQ(hub_cache_read_ref(dir, "refs/pr/1", commit), 0);
    CHECK_STR_EQ(commit, c1);
    snprintf(path, sizeof path, "%s/refs/refs/pr/1", dir);
    FILE *f = fopen(path, "rb");
    char buf[64] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    CHECK_INT_EQ(n, 40); /* the commit, no newline */
    CHECK_INT_EQ(hub_cache_write_ref(dir, c1, c1), 0); /* a commit asked by id: no ref file */
    snprintf(path, sizeof path, "%s/refs/%s", dir, c1);
    CHECK(!hub_path_exists(path));
    CHECK_INT_EQ(hub_cache_link(dir, c1, "config.json", "abc", err, sizeof err), 0);
    CHECK_INT_EQ(hub_cache_link(dir, c1, "config.json", "abc", err, sizeof err), 0); /* idempotent */
    snprintf(path, sizeof path, "%s/snapshots/%s/config.json", dir, c1);
    ssize_t tl = readlink(path, target, sizeof target - 1);
    CHECK(tl > 0);
    target[tl > 0 ? tl : 0] = '\0';
    CHECK_STR_EQ(target, "../../blobs/abc");
    CHECK_INT_EQ(hub_cache_mark_absent(dir, c1, "preprocessor_config.json"), 0);
    snprintf(path, sizeof path, "%s/.no_exist/%s/preprocessor_config.json", dir, c1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 0);
    int fd = hub_cache_lock(dir, "models--a--b", "abc");
    CHECK(fd >= 0);
    hub_cache_unlock(fd);
    snprintf(path, sizeof path, "%s/.locks/models--a--b/abc.lock", dir);
    CHECK(hub_path_exists(path));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cmd), 0);
}

static void test_classify(void)
{
    model_source s;
    hub_options o;
    char err[256];
    hub_options_from_env(&o);
    CHECK_INT_EQ(model_source_classify("builtin:fashion-deit"), MODEL_SOURCE_BUILTIN);
    CHECK_INT_EQ(model_source_classify("hf://a/b"), MODEL_SOURCE_HUB);
    CHECK_INT_EQ(model_source_classify("a/b"), MODEL_SOURCE_HUB);
    CHECK_INT_EQ(model_source_classify("tests/fixtures"), MODEL_SOURCE_PATH); /* exists: a path */
    CHECK_INT_EQ(model_source_classify("./a"), MODEL_SOURCE_PATH);
    CHECK_INT_EQ(model_source_classify("/nonexistent"), MODEL_SOURCE_PATH);
    CHECK_INT_EQ(model_source_resolve("builtin:fashion-deit", &o, &s, err, sizeof err), 0);
    CHECK_STR_EQ(s.name, "fashion-deit");
    CHECK(model_source_resolve("builtin:nope", &o, &s, err, sizeof err) != 0 && strstr(err, "builtin:fashion-deit"));
    CHECK(model_source_resolve("hf://a--b/c", &o, &s, err, sizeof err) != 0 && strstr(err, "--"));
    CHECK_INT_EQ(model_source_resolve("tests/fixtures/models/timm-deit-reduced", &o, &s, err, sizeof err), 0);
    CHECK_INT_EQ(s.kind, MODEL_SOURCE_PATH);
    CHECK_STR_EQ(s.name, "");
    /* the built-in model opens from memory and matches its directory */
    deit_model *a = NULL, *b = NULL;
    CHECK_INT_EQ(deit_model_open("builtin:fashion-deit", &a, err, sizeof err), 0);
    CHECK_INT_EQ(deit_model_open("models/fashion-deit", &b, err, sizeof err), 0);
    if (a && b) {
        CHECK_STR_EQ(deit_model_name(a), "fashion-deit");
        CHECK_INT_EQ(deit_model_classes(a), deit_model_classes(b));
        CHECK_STR_EQ(deit_model_architecture(a), deit_model_architecture(b));
    }
    deit_model_free(a);
    deit_model_free(b);
    CHECK(deit_model_open("builtin:nope", &a, err, sizeof err) != 0 && a == NULL);
}

int main(void)
{
    test_ref();
    test_names();
    test_env();
    test_cache();
    test_classify();
    return check_summary("test_hub");
}
