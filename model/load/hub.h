/* hub.h — models by name: what `--model` names (a path, "builtin:NAME", "hf://ORG/NAME[@REV]" or
 * timm's "hf-hub:ORG/NAME[@REV]", a bare "ORG/NAME", or a timm model name such as
 * "deit_base_patch16_224") turned into something deit_model_open takes, fetching Hugging Face Hub models into
 * huggingface_hub's own cache so both share it.
 *
 * Usage:
 *   hub_options o;
 *   hub_options_from_env(&o);            // HF_ENDPOINT, HF_HUB_CACHE/HF_HOME/XDG_CACHE_HOME, HF_TOKEN,
 *   o.max_bytes = 4096LL << 20;          // HF_HUB_OFFLINE, HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT
 *   o.log = my_log; o.ctx = me;          // optional: one line per file, progress, cancellation
 *   model_source src;
 *   if (model_source_resolve(argv_model, &o, &src, err, sizeof err)) { puts(err); ... }
 *   deit_model_open(src.path, &m, err, sizeof err);   // src.name: the name to serve it under
 *
 * The cache layout is huggingface_hub's (docs/hub.md): <root>/models--ORG--NAME/{blobs/<etag>,
 * snapshots/<commit>/<file> -> ../../blobs/<etag>, refs/<revision>, .no_exist/<commit>/<file>},
 * locks in <root>/.locks/models--ORG--NAME/<etag>.lock. Files fetched: config.json and
 * model.safetensors (required), preprocessor_config.json (optional); never pickles.
 *
 * Thread safety: model_source_resolve may run in several threads and processes at once over one
 * cache (a blob is fetched by one of them under its lock; the others wait and reuse it). The
 * callbacks run on the calling thread. The library never prints: messages go to o.log.
 */
#ifndef DEIT_HUB_H
#define DEIT_HUB_H

#include <limits.h>
#include <stddef.h>

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_BUILTIN_PREFIX "builtin:"
#define HUB_SCHEME "hf://"
#define HUB_TIMM_SCHEME "hf-hub:" /* timm.create_model's prefix; "hf_hub:" is read the same */

typedef enum { HUB_LOG_INFO = 0, HUB_LOG_WARN = 1 } hub_log_level;

typedef struct hub_options {
    char endpoint[512];        /* hub origin (no trailing '/'): $HF_ENDPOINT or https://huggingface.co */
    char endpoint_error[256];  /* why $HF_ENDPOINT cannot be used (no http:// or https://, too long); else "" */
    char cache_dir[PATH_MAX];  /* cache root: $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
                                * ~/.cache/huggingface/hub (~: $HOME, else the password database's home);
                                * "" when none can be had, with the reason in cache_error */
    char cache_error[256];     /* why cache_dir is "" (no home directory, a variable too long); else "" */
    char token[1024];          /* $HF_TOKEN, else $HF_TOKEN_PATH's or $HF_HOME/token's content, CR/LF
                                * removed and trimmed as huggingface_hub does; "" = none */
    int offline;               /* $HF_HUB_OFFLINE (1/ON/YES/TRUE): no request at all, the cache or an error */
    double etag_timeout_s;     /* $HF_HUB_ETAG_TIMEOUT (10): connect + answer limit of each metadata HEAD */
    double download_timeout_s; /* $HF_HUB_DOWNLOAD_TIMEOUT (10): connect limit, and longest stall of a download */
    long long max_bytes;       /* refuse a model whose files add up to more (0: no cap) */
    char env_warnings[1024];   /* settings hub_options_from_env ignored and why, one per line ("" if
                                * none); model_source_resolve logs each as a warning for a hub model */
    /* One line per event (file fetched, cache used after a network failure, a wait for another
     * download's lock every 10 s); may be NULL. */
    void (*log)(void *ctx, hub_log_level level, const char *msg);
    /* Bytes of `file` so far out of `total` (-1 if unknown) during a download; may be NULL. */
    void (*progress)(void *ctx, const char *file, long long done, long long total);
    /* Polled during transfers and while waiting for a lock; nonzero aborts the download (kept for
     * resuming); may be NULL. */
    int (*cancelled)(void *ctx);
    void *ctx;
} hub_options;

/* Fills o from the environment as huggingface_hub reads it (see the field comments); no cap, no callbacks.
 * Never fails: what it cannot use is said in cache_error and env_warnings. */
void hub_options_from_env(hub_options *o);

typedef enum { MODEL_SOURCE_PATH = 0, MODEL_SOURCE_BUILTIN, MODEL_SOURCE_HUB } model_source_kind;

typedef struct {
    model_source_kind kind;
    char path[PATH_MAX];       /* for deit_model_open: the path as given, "builtin:NAME", or the snapshot dir */
    char name[128];            /* the name to serve: NAME for hub and built-in models, "" for a path */
    char repo[128];            /* hub: ORG/NAME */
    char revision[256];        /* hub: the revision asked for ("main" by default) */
    char commit[41];           /* hub: the commit the snapshot holds */
    int cache_only;            /* hub: served from the cache without asking the hub (offline, pinned, or
                                * after a network failure) */
    int requests;              /* hub: HTTP requests made */
    long long downloaded;      /* hub: bytes downloaded */
} model_source;

/* Decides what `spec` names and, for a hub model, makes its snapshot complete in the cache:
 *   "builtin:NAME"             a model compiled into the binary (hub_builtin_find)
 *   "hf://ORG/NAME[@REV]"      a hub model at revision REV (branch, tag or 40-hex commit; default main)
 *   "hf-hub:ORG/NAME[@REV]"    the same, as timm writes it ("hf_hub:" too)
 *   "ORG/NAME[@REV]"           the same, when no file or directory of that name exists
 *   "ARCH[.TAG]"               timm's model name, when no such path exists and ARCH is an architecture
 *                              of timm_names.c: hf://timm/ARCH.TAG, TAG timm's default for ARCH when
 *                              absent (logged through o->log, and named in any error); also one of
 *                              timm's deprecated names, read as its current ARCH.TAG (a warning)
 *   anything else              a path, passed through unchanged; one that does not exist but looks
 *                              like a timm name (vit_base_patch16_clip_224) is refused with a message
 *                              naming the hf://timm/ id of its weights
 * Returns 0, or a DEIT_E* status with a message a user can act on (wrong name, gated repo, missing
 * revision, network down with nothing cached, size cap, integrity failure naming both hashes). */
int model_source_resolve(const char *spec, const hub_options *o, model_source *out, char *err,
                         size_t errlen);

/* What spec names, without resolving it (no request, no file read beyond a stat). */
model_source_kind model_source_classify(const char *spec);

/* A model compiled into the binary: its config.json and model.safetensors. */
typedef struct {
    const char *name;
    const unsigned char *config_json;
    size_t config_len;
    const unsigned char *safetensors; /* 64-byte aligned */
    size_t safetensors_len;
} hub_builtin;

/* Fills *out with the built-in model called `name` (after "builtin:"): 0, or -1 when there is none. */
int hub_builtin_find(const char *name, hub_builtin *out);
/* The name `deit-server` serves when given no --model: "builtin:fashion-deit". */
#define HUB_DEFAULT_MODEL "builtin:fashion-deit"

#endif
