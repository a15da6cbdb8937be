/* test_hub.c — the hub's pure parts: repo ids and revisions (what may become a path), etags, URL
 * quoting, environment defaults, the cache's refs / links / absence markers (also with symlinks
 * planted in a shared cache, and from many threads at once), the lock's wait, and --model's
 * classification. The network side is tested against the mock hub (tests/test_hub.sh), apart from
 * a timeout against a socket that never answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "deit.h"
#include "hub_internal.h"
#include "status.h"

/* What the hub code logged (o.log), all lines joined. */
static char logged[4096];
static void on_log(void *ctx, hub_log_level level, const char *msg)
{
    (void)ctx, (void)level;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", msg);
}

/* The content of a small file ("" if unreadable). */
static const char *slurp(const char *path)
{
    static char buf[256];
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    return buf;
}

static void put(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(data, f);
        fclose(f);
    }
}

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
    /* expanduser then expandvars, as huggingface_hub does to HF_HOME, HF_HUB_CACHE, HF_TOKEN_PATH
     * (a Kubernetes env entry or a Dockerfile ENV leaves "~" and "$X" as written) */
    setenv("HF_HOME", "~/hf", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "/home/u/hf/hub");
    setenv("DEIT_TEST_DIR", "data", 1);
    setenv("HF_HOME", "$HOME/${DEIT_TEST_DIR}/$DEIT_TEST_UNSET/${}/$/x", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "/home/u/data/$DEIT_TEST_UNSET/${}/$/x/hub"); /* unset ones as written */
    setenv("HF_HOME", "~deit-no-such-user/hf", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "~deit-no-such-user/hf/hub"); /* an unknown user: as written, as Python */
    setenv("HF_HOME", "~root/hf", 1);
    hub_options_from_env(&o);
    struct passwd *rootpw = getpwnam("root");
    if (rootpw) {
        char want_root[PATH_MAX + 16];
        snprintf(want_root, sizeof want_root, "%s/hf/hub", strcmp(rootpw->pw_dir, "/") ? rootpw->pw_dir : "");
        CHECK_STR_EQ(o.cache_dir, want_root);
    }
    setenv("HF_HUB_CACHE", "~/cache", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "/home/u/cache");
    unsetenv("HF_HUB_CACHE");
    unsetenv("DEIT_TEST_DIR");
    setenv("HF_HOME", "/hf", 1);
    /* TRANSFORMERS_OFFLINE counts when HF_HUB_OFFLINE is unset or empty, as huggingface_hub reads it */
    unsetenv("HF_HUB_OFFLINE");
    setenv("TRANSFORMERS_OFFLINE", "1", 1);
    hub_options_from_env(&o);
    CHECK_INT_EQ(o.offline, 1);
    setenv("HF_HUB_OFFLINE", "0", 1);
    hub_options_from_env(&o);
    CHECK_INT_EQ(o.offline, 0);
    unsetenv("TRANSFORMERS_OFFLINE");
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
    CHECK_STR_EQ(o.env_warnings, "");
    setenv("HF_TOKEN", "hf_a\r\nX-Evil: 1", 1); /* would split the header line: dropped, with a warning */
    setenv("HF_HUB_ETAG_TIMEOUT", "-1", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.token, "");
    CHECK_NEAR(o.etag_timeout_s, 10, 0);
    CHECK(strstr(o.env_warnings, "HF_TOKEN ignored") && strstr(o.env_warnings, "space"));
    CHECK(!strstr(o.env_warnings, "X-Evil")); /* the token itself is never repeated */
    CHECK(strstr(o.env_warnings, "HF_HUB_ETAG_TIMEOUT=\"-1\" ignored"));
    /* line breaks and surrounding whitespace are removed, as huggingface_hub's _clean_token does */
    setenv("HF_TOKEN", " \thf_abc\r\n", 1);
    unsetenv("HF_HUB_ETAG_TIMEOUT");
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.token, "hf_abc");
    CHECK_STR_EQ(o.env_warnings, "");
    setenv("HF_TOKEN", "hf_\x7f", 1);
    hub_options_from_env(&o);
    CHECK(o.token[0] == '\0' && strstr(o.env_warnings, "HF_TOKEN ignored") && strstr(o.env_warnings, "control"));
    /* a token file: read whole and cleaned; an HF_TOKEN of only whitespace counts as absent */
    char tokfile[] = "/tmp/deit-test-hub-token-XXXXXX";
    int tfd = mkstemp(tokfile);
    CHECK(tfd >= 0);
    if (tfd >= 0)
        close(tfd);
    put(tokfile, "\n hf_file \r\n");
    setenv("HF_TOKEN_PATH", tokfile, 1);
    setenv("HF_TOKEN", " \n", 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.token, "hf_file");
    put(tokfile, "hf_one two\n");
    hub_options_from_env(&o);
    char want_warning[128];
    snprintf(want_warning, sizeof want_warning, "the token file %s ignored", tokfile);
    CHECK(o.token[0] == '\0' && strstr(o.env_warnings, want_warning));
    /* HF_TOKEN_PATH expanded as the cache paths are */
    put(tokfile, "hf_tilde\n");
    setenv("HOME", "/tmp", 1);
    char tilde[64];
    snprintf(tilde, sizeof tilde, "~/%s", tokfile + strlen("/tmp/"));
    setenv("HF_TOKEN_PATH", tilde, 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.token, "hf_tilde");
    setenv("HOME", "/home/u", 1);
    unlink(tokfile);
    unsetenv("HF_TOKEN_PATH");
    unsetenv("HF_TOKEN");
    /* under 1 ms would round to libcurl's 0, "no limit": refused with a warning, not a hang */
    setenv("HF_HUB_ETAG_TIMEOUT", "0.0001", 1);
    setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.0004", 1);
    hub_options_from_env(&o);
    CHECK_NEAR(o.etag_timeout_s, 10, 0);
    CHECK_NEAR(o.download_timeout_s, 10, 0);
    CHECK(strstr(o.env_warnings, "HF_HUB_ETAG_TIMEOUT=\"0.0001\" ignored (under 1 ms"));
    CHECK(strstr(o.env_warnings, "\nHF_HUB_DOWNLOAD_TIMEOUT=\"0.0004\" ignored (under 1 ms"));
    setenv("HF_HUB_ETAG_TIMEOUT", "0.001", 1);
    hub_options_from_env(&o);
    CHECK_NEAR(o.etag_timeout_s, 0.001, 0);
    unsetenv("HF_HUB_ETAG_TIMEOUT");
    unsetenv("HF_HUB_DOWNLOAD_TIMEOUT");
    /* a variable too long for a path is named as such, not reported as unset */
    static char longv[PATH_MAX + 16];
    memset(longv, 'x', sizeof longv - 1);
    longv[0] = '/';
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", longv, 1);
    hub_options_from_env(&o);
    CHECK_STR_EQ(o.cache_dir, "");
    CHECK(strstr(o.cache_error, "HF_HOME is too long"));
    model_source s;
    char err[512];
    CHECK(model_source_resolve("hf://a/b", &o, &s, err, sizeof err) != 0 && strstr(err, "HF_HOME is too long"));
    longv[PATH_MAX - 2] = '\0'; /* fits, but $HF_HOME/hub does not */
    setenv("HF_HOME", longv, 1);
    hub_options_from_env(&o);
    CHECK(!o.cache_dir[0] && strstr(o.cache_error, "HF_HOME is too long"));
    longv[PATH_MAX - 2] = 'x';
    setenv("HF_HUB_CACHE", longv, 1);
    hub_options_from_env(&o);
    CHECK(!o.cache_dir[0] && strstr(o.cache_error, "HF_HUB_CACHE is too long"));
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    /* no HOME: the password database's home, as Python's expanduser, never /tmp */
    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    unsetenv("HOME");
    unsetenv("XDG_CACHE_HOME");
    struct passwd *pw = getpwuid(getuid());
    char want[PATH_MAX + 64] = "";
    if (pw && pw->pw_dir && pw->pw_dir[0])
        snprintf(want, sizeof want, "%s/.cache/huggingface/hub", pw->pw_dir);
    hub_options_from_env(&o);
    if (want[0]) {
        CHECK_STR_EQ(o.cache_dir, want);
    } else {
        CHECK(!o.cache_dir[0] && strstr(o.cache_error, "set HF_HOME or HF_HUB_CACHE"));
    }
    CHECK(strncmp(o.cache_dir, "/tmp/", 5) != 0);
    if (saved_home)
        setenv("HOME", saved_home, 1);
    free(saved_home);
    /* what was ignored reaches the log when a hub model is resolved */
    setenv("HF_TOKEN", "hf bad", 1);
    setenv("HF_HUB_OFFLINE", "1", 1);
    setenv("HF_HUB_CACHE", "/nonexistent/deit-test-cache", 1);
    hub_options_from_env(&o);
    o.log = on_log;
    logged[0] = '\0';
    CHECK(model_source_resolve("hf://a/b", &o, &s, err, sizeof err) != 0);
    CHECK(strstr(logged, "HF_TOKEN ignored, no token is sent"));
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
    CHECK_INT_EQ(hub_cache_write_ref(dir, "refs/pr/1", c1, err, sizeof err), 0);
    CHECK_INT_EQ(hub_cache_read_ref(dir, "refs/pr/1", commit), 0);
    CHECK_STR_EQ(commit, c1);
    snprintf(path, sizeof path, "%s/refs/refs/pr/1", dir);
    FILE *f = fopen(path, "rb");
    char buf[64] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    CHECK_INT_EQ(n, 40); /* the commit, no newline */
    CHECK_INT_EQ(hub_cache_write_ref(dir, c1, c1, err, sizeof err), 0); /* a commit asked by id: no ref file */
    snprintf(path, sizeof path, "%s/refs/%s", dir, c1);
    CHECK(!hub_path_exists(path));
    const char *c2 = "ffffffffffffffffffffffffffffffffffffffff"; /* not even when the hub names another */
    CHECK_INT_EQ(hub_cache_write_ref(dir, c2, c1, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/refs/%s", dir, c2);
    CHECK(!hub_path_exists(path));
    CHECK_INT_EQ(hub_cache_link(dir, c1, "config.json", "abc", err, sizeof err), 0);
    CHECK_INT_EQ(hub_cache_link(dir, c1, "config.json", "abc", err, sizeof err), 0); /* idempotent */
    snprintf(path, sizeof path, "%s/snapshots/%s/config.json", dir, c1);
    ssize_t tl = readlink(path, target, sizeof target - 1);
    CHECK(tl > 0);
    target[tl > 0 ? tl : 0] = '\0';
    CHECK_STR_EQ(target, "../../blobs/abc");
    CHECK_INT_EQ(hub_cache_mark_absent(dir, c1, "preprocessor_config.json", err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/.no_exist/%s/preprocessor_config.json", dir, c1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 0);
    hub_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.cache_dir, sizeof o.cache_dir, "%s", dir);
    int fd = hub_cache_lock(&o, "models--a--b", "abc", err, sizeof err);
    CHECK(fd >= 0);
    hub_cache_unlock(fd);
    snprintf(path, sizeof path, "%s/.locks/models--a--b/abc.lock", dir);
    CHECK(hub_path_exists(path));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cmd), 0);
}

/* A shared cache's other users can plant symlinks (or hard links, FIFOs) where the cache writes:
 * nothing is written through them, and the error names the path and the problem. */
static void test_planted(void)
{
    char dir[] = "/tmp/deit-test-hub-XXXXXX", victim[600], gone[600], path[600], err[1024];
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    const char *c1 = "0123456789abcdef0123456789abcdef01234567";
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(gone, sizeof gone, "%s/not-there", dir);
    put(victim, "precious");
    /* the absence marker, as a link to an existing file and as a dangling link */
    snprintf(path, sizeof path, "%s/.no_exist/%s", dir, c1);
    CHECK_INT_EQ(hub_mkdirs(path), 0);
    snprintf(path, sizeof path, "%s/.no_exist/%s/preprocessor_config.json", dir, c1);
    CHECK_INT_EQ(symlink(victim, path), 0);
    err[0] = '\0';
    CHECK_INT_EQ(hub_cache_mark_absent(dir, c1, "preprocessor_config.json", err, sizeof err), -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "is a symbolic link"), "%s", err);
    unlink(path);
    CHECK_INT_EQ(symlink(gone, path), 0);
    CHECK_INT_EQ(hub_cache_mark_absent(dir, c1, "preprocessor_config.json", err, sizeof err), -1);
    CHECK(!hub_path_exists(gone));
    unlink(path);
    CHECK_INT_EQ(mkfifo(path, 0600), 0); /* refused at once, not waited on */
    CHECK_INT_EQ(hub_cache_mark_absent(dir, c1, "preprocessor_config.json", err, sizeof err), -1);
    CHECK_MSG(strstr(err, "is not a regular file"), "%s", err);
    /* refs: the temporary name the writer once used (pid only), and the ref itself, planted */
    snprintf(path, sizeof path, "%s/refs", dir);
    CHECK_INT_EQ(hub_mkdirs(path), 0);
    snprintf(path, sizeof path, "%s/refs/main.tmp%ld", dir, (long)getpid());
    CHECK_INT_EQ(symlink(victim, path), 0);
    snprintf(path, sizeof path, "%s/refs/v1", dir);
    CHECK_INT_EQ(symlink(victim, path), 0);
    CHECK_INT_EQ(hub_cache_write_ref(dir, "main", c1, err, sizeof err), 0);
    CHECK_INT_EQ(hub_cache_write_ref(dir, "v1", c1, err, sizeof err), 0);
    struct stat st;
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode)); /* the link was replaced, not followed */
    /* the lock file */
    snprintf(path, sizeof path, "%s/.locks/models--a--b", dir);
    CHECK_INT_EQ(hub_mkdirs(path), 0);
    snprintf(path, sizeof path, "%s/.locks/models--a--b/abc.lock", dir);
    CHECK_INT_EQ(symlink(gone, path), 0);
    hub_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.cache_dir, sizeof o.cache_dir, "%s", dir);
    CHECK_INT_EQ(hub_cache_lock(&o, "models--a--b", "abc", err, sizeof err), -1);
    CHECK_MSG(strstr(err, path) && strstr(err, "is a symbolic link"), "%s", err);
    CHECK(!hub_path_exists(gone));
    /* a partial download: never extended (nor truncated, 4 < 8 bytes) through a link, nor a hard link */
    snprintf(path, sizeof path, "%s/blob.incomplete", dir);
    CHECK_INT_EQ(symlink(victim, path), 0);
    o.download_timeout_s = 1;
    int requests = 0;
    CHECK_INT_EQ(hub_http_download(&o, "http://127.0.0.1:9/x", 0, path, "model.safetensors", 4, NULL, NULL,
                                   &requests, err, sizeof err), DEIT_EIO);
    CHECK_MSG(strstr(err, path) && strstr(err, "is a symbolic link"), "%s", err);
    CHECK_INT_EQ(requests, 0);
    unlink(path);
    CHECK_INT_EQ(link(victim, path), 0);
    CHECK_INT_EQ(hub_http_download(&o, "http://127.0.0.1:9/x", 0, path, "model.safetensors", 4, NULL, NULL,
                                   &requests, err, sizeof err), DEIT_EIO);
    CHECK_MSG(strstr(err, path) && strstr(err, "hard links"), "%s", err);
    CHECK_STR_EQ(slurp(victim), "precious");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cmd), 0);
}

/* Threads of one process linking the same files and writing the same refs at the same moment: each
 * call succeeds (temporary names are unique per call, and a link made meanwhile counts). */
#define RACE_THREADS 8
#define RACE_ROUNDS 60
static pthread_barrier_t race_gate;
static const char *race_dir;

static void *race(void *arg)
{
    int *failed = arg;
    char file[32], rev[32], err[512];
    for (int i = 0; i < RACE_ROUNDS; i++) {
        snprintf(file, sizeof file, "f%d.json", i);
        snprintf(rev, sizeof rev, "r%d", i);
        pthread_barrier_wait(&race_gate);
        if (hub_cache_link(race_dir, "0123456789abcdef0123456789abcdef01234567", file, "abc", err, sizeof err) != 0 ||
            hub_cache_write_ref(race_dir, rev, "0123456789abcdef0123456789abcdef01234567", err, sizeof err) != 0) {
            fprintf(stderr, "race: %s\n", err);
            (*failed)++;
        }
    }
    return NULL;
}

static void test_race(void)
{
    char dir[] = "/tmp/deit-test-hub-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    race_dir = dir;
    pthread_t t[RACE_THREADS];
    int failed[RACE_THREADS] = {0};
    pthread_barrier_init(&race_gate, NULL, RACE_THREADS);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_create(&t[i], NULL, race, &failed[i]);
    int total = 0;
    for (int i = 0; i < RACE_THREADS; i++) {
        pthread_join(t[i], NULL);
        total += failed[i];
    }
    pthread_barrier_destroy(&race_gate);
    CHECK_INT_EQ(total, 0);
    char cmd[600], commit[41];
    CHECK_INT_EQ(hub_cache_read_ref(dir, "r7", commit), 0);
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '*.tmp*')\"", dir); /* no temporary file left */
    CHECK_INT_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cmd), 0);
}

/* Cancelled once the wait has been reported. */
static int cancel_after_log(void *ctx)
{
    (void)ctx;
    return logged[0] != '\0';
}

/* A lock held elsewhere is waited for, the wait is reported, and cancellation ends it. */
static void test_lock_wait(void)
{
    char dir[] = "/tmp/deit-test-hub-XXXXXX", err[1024], lock[600];
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    hub_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.cache_dir, sizeof o.cache_dir, "%s", dir);
    int held = hub_cache_lock(&o, "models--a--b", "abc", err, sizeof err); /* flock: per open file, so this conflicts */
    CHECK(held >= 0);
    o.log = on_log;
    o.cancelled = cancel_after_log;
    logged[0] = '\0';
    errno = 0;
    CHECK_INT_EQ(hub_cache_lock(&o, "models--a--b", "abc", err, sizeof err), -1);
    CHECK_INT_EQ(errno, ECANCELED);
    snprintf(lock, sizeof lock, "%s/.locks/models--a--b/abc.lock", dir);
    CHECK_MSG(strstr(err, "cancelled while waiting for") && strstr(err, lock), "%s", err);
    CHECK_MSG(strstr(logged, "waiting for") && strstr(logged, lock), "%s", logged);
    hub_cache_unlock(held);
    o.cancelled = NULL;
    int fd = hub_cache_lock(&o, "models--a--b", "abc", err, sizeof err); /* free again: taken at once */
    CHECK(fd >= 0);
    hub_cache_unlock(fd);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cmd), 0);
}

/* A timeout under 1 ms set in the options (the environment refuses one) still limits the HEAD: it
 * must not become libcurl's 0, "no limit". The server accepts the connection (backlog) and never
 * answers; alarm() in main turns a hang into a failure. */
static void test_tiny_timeout(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) != 0) {
        CHECK(0);
        if (s >= 0)
            close(s);
        return;
    }
    hub_options o;
    memset(&o, 0, sizeof o);
    o.etag_timeout_s = 0.0001;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    hub_meta m;
    CHECK_INT_EQ(hub_http_head(&o, url, &m), -1);
    CHECK_INT_EQ(m.no_answer, 1);
    /* libcurl words it by the step the limit cut: "Operation timed out after 1 ms", or, on a loaded
     * machine, "Failed to resolve host '127.0.0.1' with timeout after 4 ms" or "Connection time-out" */
    CHECK_MSG(strstr(m.transport, "timed out") || strstr(m.transport, "timeout") || strstr(m.transport, "time-out"),
              "%s", m.transport);
    close(s);
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
    alarm(120); /* a lock or a request that hangs fails the test instead of stalling the suite */
    test_ref();
    test_names();
    test_env();
    test_cache();
    test_planted();
    test_race();
    test_lock_wait();
    test_tiny_timeout();
    test_classify();
    return check_summary("test_hub");
}
