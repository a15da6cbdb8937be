/* hub.c — what --model names, and a hub model's snapshot made complete in the shared cache: the cache
 * first (pinned commits, offline mode, a network failure), then HEAD for each missing file and a
 * locked, verified download of each missing blob. */
#include "hub_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"
#include "timm_names.h"

/* The files a model is made of. Weights only as safetensors: pytorch_model.bin is a pickle, which
 * runs code when loaded, so it is never fetched. */
static const struct {
    const char *name;
    int required;
} MODEL_FILES[] = {{"config.json", 1}, {"model.safetensors", 1}, {"preprocessor_config.json", 0}};

/* The engine's limit on config files (deit.c's MAX_CONFIG_BYTES). */
#define HUB_MAX_JSON_BYTES (16LL << 20)

typedef struct {
    const hub_options *o;
    hub_ref ref;
    model_source *out;
    char repo_dir[PATH_MAX];
    char commit[41];           /* known once pinned, read from refs/, or told by the first HEAD */
    int cache_only;            /* offline, or the hub not usable: answer from the cache or fail */
    char no_hub[3072];         /* why the hub is not used (when not offline): part of any error after */
    long long total;           /* bytes of the files so far (the size cap) */
} job;

static void say(const job *j, hub_log_level lv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(const job *j, hub_log_level lv, const char *fmt, ...)
{
    if (!j->o->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->o->log(j->o->ctx, lv, msg);
}

/* What the user can do about a refused HEAD, from its status and X-Error-Code (the codes
 * huggingface_hub's hf_raise_for_status reads). */
static int refused(const job *j, const char *file, const hub_meta *m, char *err, size_t errlen)
{
    const char *repo = j->ref.repo, *code = m->error_code, *ep = j->o->endpoint;
    const char *hubmsg = m->error_message[0] ? m->error_message : "no message";
    if (strcmp(code, "GatedRepo") == 0)
        return deit_fail(err, errlen, DEIT_EIO,
                         "%s is a gated model (HTTP %ld: %s): accept its conditions at %s/%s while logged in, then set "
                         "HF_TOKEN (or $HF_HOME/token) to a read token of that account%s",
                         repo, m->status, hubmsg, ep, repo, j->o->token[0] ? " (the current token has no access yet)" : "");
    if (strcmp(code, "RevisionNotFound") == 0)
        return deit_fail(err, errlen, DEIT_EIO,
                         "%s has no revision \"%s\" (HTTP %ld): name an existing branch, tag or 40-hex commit id after '@'",
                         repo, j->ref.revision, m->status);
    if (strcmp(code, "EntryNotFound") == 0)
        return deit_fail(err, errlen, DEIT_EIO,
                         "%s@%s has no %s (HTTP %ld): deit-server loads config.json + model.safetensors (timm or "
                         "transformers, safetensors format; pytorch_model.bin pickles are never loaded)",
                         repo, j->ref.revision, file, m->status);
    if (m->status == 401 || strcmp(code, "RepoNotFound") == 0)
        return deit_fail(err, errlen, DEIT_EIO,
                         j->o->token[0]
                             ? "%s: repository not found (HTTP %ld): check the id (ORG/NAME as on %s); if it is private, "
                               "the token in HF_TOKEN / $HF_HOME/token cannot read it (invalid or without access)"
                             : "%s: repository not found (HTTP %ld): check the id (ORG/NAME as on %s); a private or gated "
                               "repository needs a token in HF_TOKEN (or $HF_HOME/token)",
                         repo, m->status, ep);
    if (m->status == 403 && j->o->token[0])
        return deit_fail(err, errlen, DEIT_EIO,
                         "%s: access forbidden (HTTP 403: %s): the token in HF_TOKEN lacks read permission for it "
                         "(a fine-grained token needs read access to this repository)", repo, hubmsg);
    if (m->status == 403) /* a disabled repository, say: no token was sent to blame */
        return deit_fail(err, errlen, DEIT_EIO, "%s: access forbidden (HTTP 403: %s), with no token sent", repo, hubmsg);
    if (m->status == 404)
        return deit_fail(err, errlen, DEIT_EIO, "%s@%s: %s not found (HTTP 404: %s)", repo, j->ref.revision, file, hubmsg);
    return deit_fail(err, errlen, DEIT_EIO, "%s: %s answered HTTP %ld for %s (%s)", repo, ep, m->status, file, hubmsg);
}

/* From here on the cache answers, or the load fails saying `why` (see resolve_file). */
static void use_cache_instead(job *j, const char *why)
{
    say(j, HUB_LOG_WARN, "%s: using the cache %s", why, j->o->cache_dir);
    snprintf(j->no_hub, sizeof j->no_hub, "%s", why);
    j->cache_only = 1;
    j->out->cache_only = 1;
}

/* Why the cache alone has to answer: offline mode, or what the hub did. */
static const char *no_hub_reason(const job *j)
{
    return j->o->offline ? "HF_HUB_OFFLINE is set" : j->no_hub;
}

/* Whether the cache knows the revision at all (a pinned commit, or refs/<revision>). */
static int cache_has_revision(const job *j)
{
    char commit[41];
    return j->commit[0] || hub_cache_read_ref(j->repo_dir, j->ref.revision, commit) == 0;
}

/* The cache's answer for `file` at j->commit: 1 present, 0 known absent (.no_exist), -1 unknown. */
static int cached(const job *j, const char *file)
{
    char p[PATH_MAX];
    if (hub_pathf(p, sizeof p, "%s/snapshots/%s/%s", j->repo_dir, j->commit, file) == 0 && hub_path_exists(p))
        return 1;
    return hub_pathf(p, sizeof p, "%s/.no_exist/%s/%s", j->repo_dir, j->commit, file) == 0 && hub_path_exists(p)
               ? 0 : -1;
}

/* A cache note (a ref, an absence marker) that could not be written costs a request next time, no
 * more: a read-only cache refuses it by design, anything else (a planted symlink) is worth a warning. */
static void note_failed(const job *j, const char *what, const char *why)
{
    if (errno != EROFS && errno != EACCES && errno != EPERM)
        say(j, HUB_LOG_WARN, "cannot record %s in the cache: %s", what, why);
}

/* blobs/<etag> as a blob to reuse: 1 a regular file, 0 absent or a symbolic link (never one of ours:
 * it is replaced by the download's rename, which does not follow it), -1 anything else. */
static int blob_present(const job *j, const char *blob, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(blob, &st) != 0)
        return 0;
    if (S_ISREG(st.st_mode))
        return 1;
    if (S_ISLNK(st.st_mode)) {
        say(j, HUB_LOG_WARN, "%s is a symbolic link, not a blob: fetching the file again to replace it", blob);
        return 0;
    }
    deit_fail(err, errlen, DEIT_EIO, "%s is not a regular file: refusing to use it as a blob (remove it)", blob);
    return -1;
}

/* Fetches blobs/<etag> (under its lock, as <etag>.incomplete until verified) unless it is there. */
static int fetch_blob(job *j, const char *file, const hub_meta *m, char *err, size_t errlen)
{
    char blob[PATH_MAX], part[PATH_MAX + 16], dir[PATH_MAX], lerr[PATH_MAX + 200];
    /* resolve_hub bounded repo_dir, so these fit */
    hub_pathf(dir, sizeof dir, "%s/blobs", j->repo_dir);
    hub_pathf(blob, sizeof blob, "%s/%s", dir, m->etag);
    hub_pathf(part, sizeof part, "%s.incomplete", blob);
    struct stat st;
    if (lstat(blob, &st) == 0 && S_ISREG(st.st_mode))
        return DEIT_OK; /* there already: no lock needed */
    if (hub_mkdirs(dir) != 0)
        return deit_fail(err, errlen, DEIT_EIO, "cannot write the model cache %s: %s (make it writable, or fill it "
                                                "beforehand and mount it read-only)", dir, strerror(errno));
    int lock = hub_cache_lock(j->o, j->ref.folder, m->etag, lerr, sizeof lerr);
    if (lock < 0)
        return errno == ECANCELED ? deit_fail(err, errlen, DEIT_EIO, "%s: download %s", file, lerr)
                                  : deit_fail(err, errlen, DEIT_EIO, "cannot lock the download of %s: %s", file, lerr);
    /* another process may have fetched it while we waited */
    int rc = DEIT_OK, have = blob_present(j, blob, err, errlen);
    if (have != 0) {
        rc = have > 0 ? DEIT_OK : DEIT_EIO;
    } else {
        /* The token goes only to the hub itself; the CDN's Location is signed already. */
        size_t el = strlen(j->o->endpoint);
        int same_host = strncmp(m->location, j->o->endpoint, el) == 0 && (m->location[el] == '/' || !m->location[el]);
        say(j, HUB_LOG_INFO, "downloading %s/%s (%lld bytes) from %s", j->ref.repo, file, m->size, j->o->endpoint);
        rc = hub_http_download(j->o, m->location, same_host, part, file, m->size,
                               hub_is_sha256(m->etag) ? m->etag : NULL, &j->out->downloaded, &j->out->requests,
                               err, errlen);
        if (rc == DEIT_OK && rename(part, blob) != 0)
            rc = deit_fail(err, errlen, DEIT_EIO, "%s: %s", blob, strerror(errno));
        if (rc == DEIT_OK)
            say(j, HUB_LOG_INFO, "fetched %s/%s into %s", j->ref.repo, file, blob);
    }
    hub_cache_unlock(lock);
    return rc;
}

/* The commit the first answer named becomes the snapshot's, and refs/<revision> says so. */
static void pin_commit(job *j, const char *commit)
{
    memcpy(j->commit, commit, 41);
    char why[PATH_MAX + 200];
    if (hub_cache_write_ref(j->repo_dir, j->ref.revision, j->commit, why, sizeof why) != 0)
        note_failed(j, "the revision's commit", why);
}

/* Makes one file of the snapshot present (1), or known absent (0, optional files only). */
static int resolve_file(job *j, const char *file, int required, char *err, size_t errlen)
{
    for (;;) {
        if (!j->commit[0] && j->cache_only && hub_cache_read_ref(j->repo_dir, j->ref.revision, j->commit) != 0)
            return deit_fail(err, errlen, DEIT_EIO,
                             "%s@%s is not in the cache %s and %s: run once with the hub reachable (or copy a "
                             "huggingface_hub cache there)", j->ref.repo, j->ref.revision, j->o->cache_dir,
                             no_hub_reason(j));
        if (j->commit[0]) {
            int c = cached(j, file);
            if (c == 1)
                return 1;
            if (c == 0 && !required)
                return 0;
            if (j->cache_only) {
                if (!required) {
                    /* unknown, not known absent: a cache filled by timm (which never asks for it), or a
                     * load cut short; only a transformers checkpoint would have read it */
                    say(j, HUB_LOG_WARN, "%s@%s: the cache %s does not say whether commit %s has %s, and %s: "
                        "loaded without it (a transformers model then gets the default image processor's "
                        "settings)", j->ref.repo, j->ref.revision, j->o->cache_dir, j->commit, file,
                        no_hub_reason(j));
                    return 0;
                }
                return deit_fail(err, errlen, DEIT_EIO, "%s@%s: the cache %s lacks %s at commit %s and %s", j->ref.repo,
                                 j->ref.revision, j->o->cache_dir, file, j->commit, no_hub_reason(j));
            }
        }
        if (j->o->endpoint_error[0])
            return deit_fail(err, errlen, DEIT_EINVAL, "%s: %s", j->ref.repo, j->o->endpoint_error);
        char rev[800], url[2048];
        hub_url_quote(j->commit[0] ? j->commit : j->ref.revision, rev, sizeof rev);
        snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", j->o->endpoint, j->ref.repo, rev, file);
        hub_meta m;
        int hr = hub_http_head(j->o, url, &m);
        j->out->requests += m.requests;
        /* As huggingface_hub (_get_metadata_or_catch_error): a hub that does not answer, answers an HTTP
         * error other than a missing revision or file (a 5xx, a 429, a 401/403 after a token changed),
         * or answers without the Hub's metadata (a proxy's page) does not stop a load the cache can
         * serve: what it holds is served, with a warning; else the error says what the hub did. */
        char hub_why[sizeof j->no_hub];
        if (hr != 0 && m.no_answer) {
            snprintf(hub_why, sizeof hub_why, "the hub at %s is unreachable (%s)", j->o->endpoint, m.transport);
            use_cache_instead(j, hub_why);
            continue;
        }
        if (hr != 0)
            return deit_fail(err, errlen, DEIT_EIO, "%s: %s", url, m.transport);
        int commit_ok = hub_is_commit(m.commit);
        if (m.status == 404 && strcmp(m.error_code, "EntryNotFound") == 0 && !required) {
            if (!commit_ok)
                return 0; /* absent, at a commit the hub did not say: nothing to remember */
            /* The snapshot served is j->commit: an absence at another commit says nothing about it. */
            if (j->commit[0] && strcmp(j->commit, m.commit) != 0)
                return deit_fail(err, errlen, DEIT_EIO, "%s: asked for commit %s, the hub answered %s", url, j->commit,
                                 m.commit);
            if (!j->commit[0])
                pin_commit(j, m.commit);
            /* remembered, so the next load asks nothing */
            char why[PATH_MAX + 200];
            if (hub_cache_mark_absent(j->repo_dir, j->commit, file, why, sizeof why) != 0)
                note_failed(j, "an absent file", why);
            return 0;
        }
        int final = m.status == 404 && (strcmp(m.error_code, "RevisionNotFound") == 0 ||
                                        strcmp(m.error_code, "EntryNotFound") == 0);
        if (m.status < 200 || m.status > 399) {
            int rc = refused(j, file, &m, hub_why, sizeof hub_why);
            if (final || !cache_has_revision(j))
                return deit_fail(err, errlen, rc, "%s", hub_why);
            use_cache_instead(j, hub_why);
            continue;
        }
        if (!commit_ok || !m.etag[0] || m.size < 0 || !m.location[0]) {
            snprintf(hub_why, sizeof hub_why, "%s does not answer like the Hugging Face Hub (X-Repo-Commit \"%.64s\", ETag "
                     "\"%s\", size %lld): check HF_ENDPOINT and any proxy", url, m.commit, m.etag, m.size);
            if (!cache_has_revision(j))
                return deit_fail(err, errlen, DEIT_EIO, "%s", hub_why);
            use_cache_instead(j, hub_why);
            continue;
        }
        if (j->commit[0] && strcmp(j->commit, m.commit) != 0)
            return deit_fail(err, errlen, DEIT_EIO, "%s: asked for commit %s, the hub answered %s", url, j->commit,
                             m.commit);
        if (!j->commit[0])
            pin_commit(j, m.commit);
        if (j->o->max_bytes > 0 && m.size > j->o->max_bytes - j->total)
            return deit_fail(err, errlen, DEIT_ETOOBIG,
                             "%s: %s is %.1f MB, more than the model size limit of %.0f MB allows (--max-model-mb)",
                             j->ref.repo, file, (double)m.size / 1048576.0, (double)j->o->max_bytes / 1048576.0);
        /* deit_model_open refuses configs over 16 MB; fetching one would only fill the disk */
        size_t fl = strlen(file);
        if (fl > 5 && strcmp(file + fl - 5, ".json") == 0 && m.size > HUB_MAX_JSON_BYTES)
            return deit_fail(err, errlen, DEIT_ETOOBIG, "%s: %s is %lld bytes, too large for a config file",
                             j->ref.repo, file, m.size);
        j->total += m.size;
        if (cached(j, file) == 1)
            return 1;
        /* A file served by the hub itself (no CDN redirect; a renamed repo's relative redirects
         * followed or not) is fetched at the pinned commit, not at the branch the HEAD named: a
         * branch moving between the two cannot mix two commits' files. The old name is kept: the
         * hub redirects it again, to the same commit. */
        if (m.on_hub && strcmp(rev, j->commit) != 0)
            snprintf(m.location, sizeof m.location, "%s/%s/resolve/%s/%s", j->o->endpoint, j->ref.repo, j->commit,
                     file);
        int rc = fetch_blob(j, file, &m, err, errlen);
        if (rc != DEIT_OK)
            return rc;
        char lerr[512];
        if (hub_cache_link(j->repo_dir, j->commit, file, m.etag, lerr, sizeof lerr) != 0)
            return deit_fail(err, errlen, DEIT_EIO, "cannot write the model cache: %s", lerr);
        return 1;
    }
}

static int resolve_hub(const hub_ref *ref, const hub_options *o, model_source *out, char *err, size_t errlen)
{
    job j;
    memset(&j, 0, sizeof j);
    j.o = o;
    j.ref = *ref;
    j.out = out;
    j.cache_only = o->offline;
    out->cache_only = o->offline;
    /* what the environment held that could not be used: said once per model */
    for (const char *w = o->env_warnings; *w;) {
        size_t n = strcspn(w, "\n");
        say(&j, HUB_LOG_WARN, "%.*s", (int)n, w);
        w += n + (w[n] == '\n');
    }
    if (!o->cache_dir[0])
        return deit_fail(err, errlen, DEIT_EINVAL, "no cache directory: %s",
                         o->cache_error[0] ? o->cache_error : "set HF_HUB_CACHE or HF_HOME");
    /* Room for the longest path below it: /snapshots/<40>/preprocessor_config.json, blobs/<128>.incomplete */
    if (strlen(o->cache_dir) + strlen(ref->folder) + 200 >= sizeof j.repo_dir ||
        hub_pathf(j.repo_dir, sizeof j.repo_dir, "%s/%s", o->cache_dir, ref->folder) != 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "cache path too long: %s", o->cache_dir);
    /* A commit id names immutable content: when the cache has it, nothing is asked. */
    if (hub_is_commit(ref->revision))
        memcpy(j.commit, ref->revision, 41);
    for (size_t i = 0; i < sizeof MODEL_FILES / sizeof MODEL_FILES[0]; i++) {
        int rc = resolve_file(&j, MODEL_FILES[i].name, MODEL_FILES[i].required, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (out->requests == 0)
        out->cache_only = 1;
    hub_pathf(out->path, sizeof out->path, "%s/snapshots/%s", j.repo_dir, j.commit);
    snprintf(out->name, sizeof out->name, "%s", ref->name);
    snprintf(out->repo, sizeof out->repo, "%s", ref->repo);
    snprintf(out->revision, sizeof out->revision, "%s", ref->revision);
    memcpy(out->commit, j.commit, 41);
    return DEIT_OK;
}

/* The hub schemes: ours, and timm.create_model's own ("hf_hub:" is the older spelling timm rewrites
 * to "hf-hub:"); each followed by [ORG/]NAME[@REV]. The length of the one spec starts with, or 0. */
static size_t hub_scheme_len(const char *spec)
{
    static const char *const SCHEMES[] = {HUB_SCHEME, HUB_TIMM_SCHEME, "hf_hub:"};
    for (size_t i = 0; i < sizeof SCHEMES / sizeof *SCHEMES; i++)
        if (strncmp(spec, SCHEMES[i], strlen(SCHEMES[i])) == 0)
            return strlen(SCHEMES[i]);
    return 0;
}

/* A spec without a scheme that names a hub model: 1 for timm's name of one (ARCH or ARCH.TAG, read
 * as timm/ARCH.TAG), 2 for ORG/NAME[@REV], 0 for a path (one that exists always wins). */
static int bare_hub_ref(const char *spec, hub_ref *ref)
{
    struct stat st;
    char perr[512];
    if (stat(spec, &st) == 0)
        return 0;
    if (timm_name_ref(spec, ref) == 0)
        return 1;
    return hub_ref_parse(spec, 1, ref, perr, sizeof perr) == 0 ? 2 : 0;
}

model_source_kind model_source_classify(const char *spec)
{
    if (!spec)
        return MODEL_SOURCE_PATH;
    if (strncmp(spec, HUB_BUILTIN_PREFIX, strlen(HUB_BUILTIN_PREFIX)) == 0)
        return MODEL_SOURCE_BUILTIN;
    hub_ref ref;
    return hub_scheme_len(spec) || bare_hub_ref(spec, &ref) ? MODEL_SOURCE_HUB : MODEL_SOURCE_PATH;
}

int model_source_resolve(const char *spec, const hub_options *o, model_source *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return deit_fail(err, errlen, DEIT_EINVAL, "no model given");
    size_t bl = strlen(HUB_BUILTIN_PREFIX), sl = hub_scheme_len(spec);
    if (strncmp(spec, HUB_BUILTIN_PREFIX, bl) == 0) {
        hub_builtin b;
        if (hub_builtin_find(spec + bl, &b) != 0)
            return deit_fail(err, errlen, DEIT_EINVAL, "\"%s\": no such built-in model (there is %s)", spec,
                             HUB_DEFAULT_MODEL);
        out->kind = MODEL_SOURCE_BUILTIN;
        snprintf(out->path, sizeof out->path, "%s", spec);
        snprintf(out->name, sizeof out->name, "%s", b.name);
        return DEIT_OK;
    }
    hub_ref ref;
    char perr[512];
    int bare = 0;
    if (sl) {
        if (hub_ref_parse(spec + sl, 0, &ref, perr, sizeof perr) != 0)
            return deit_fail(err, errlen, DEIT_EINVAL, "%s", perr);
    } else if (!(bare = bare_hub_ref(spec, &ref))) {
        out->kind = MODEL_SOURCE_PATH;
        if (snprintf(out->path, sizeof out->path, "%s", spec) >= (int)sizeof out->path)
            return deit_fail(err, errlen, DEIT_EINVAL, "model path too long");
        /* A timm name this engine does not map (vit_*_clip_*, a typo) would only meet "no such file":
         * say which hub id names its weights. */
        char hint[256];
        struct stat st;
        if (stat(spec, &st) != 0 && errno == ENOENT && timm_name_suggest(spec, hint, sizeof hint))
            return deit_fail(err, errlen, DEIT_EIO,
                             "%s: no such file or directory; if it is a timm model name, write its hub id: "
                             "%s%s (docs/hub.md lists the names read without hf://)", spec, hint,
                             strstr(hint, ".TAG") ? " (TAG: a pretrained tag, as on huggingface.co/timm)" : "");
        return DEIT_OK;
    }
    /* timm warns when it maps a deprecated name; so does this, naming the current one to write */
    int deprecated = bare == 1 && timm_deprecated_name(spec, strcspn(spec, ".")) != NULL;
    if (bare == 1 && o->log) {
        char msg[512];
        if (deprecated)
            snprintf(msg, sizeof msg, "%s is timm's deprecated model name for hf://%s (timm's current name: %s)",
                     spec, ref.repo, ref.name);
        else
            snprintf(msg, sizeof msg, "%s is timm's model name for hf://%s", spec, ref.repo);
        o->log(o->ctx, deprecated ? HUB_LOG_WARN : HUB_LOG_INFO, msg);
    }
    out->kind = MODEL_SOURCE_HUB;
    int rc = resolve_hub(&ref, o, out, err, errlen);
    if (rc != DEIT_OK && bare && err && errlen) {
        /* A bare name may have been meant as a path: say how it was read. */
        size_t el = strlen(err);
        if (el + 1 < errlen && bare == 1)
            snprintf(err + el, errlen - el,
                     " (\"%s\" is no file or directory here, so it was read as timm's %smodel name for hub id "
                     "hf://%s)", spec, deprecated ? "deprecated " : "", ref.repo);
        else if (el + 1 < errlen)
            snprintf(err + el, errlen - el,
                     " (\"%s\" is no file or directory here, so it was read as hub id hf://%s)", spec, spec);
    }
    return rc;
}
