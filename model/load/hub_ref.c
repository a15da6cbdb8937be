/* hub_ref.c — hub names made safe: repo ids, revisions and etags validated before they become URLs
 * and cache paths. */
#include "hub_internal.h"

#include <stdio.h>
#include <string.h>

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* One part of a repo id: huggingface_hub's \b[\w\-.]+\b (word characters at both ends). */
static int repo_part_ok(const char *s, size_t n)
{
    if (n == 0 || !is_word(s[0]) || !is_word(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_word(s[i]) && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

/* Revisions are branch / tag names or commits; they name files under refs/, so every '/'-separated
 * component must be a plain name (no "", ".", ".."), made of characters git allows in ref names. */
static int revision_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return 0;
    const char *comp = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t cl = (size_t)(p - comp);
            if (cl == 0 || (cl == 1 && comp[0] == '.') || (cl == 2 && comp[0] == '.' && comp[1] == '.'))
                return 0;
            if (*p == '\0')
                return 1;
            comp = p + 1;
            continue;
        }
        if (!is_word(*p) && *p != '-' && *p != '.' && *p != '+')
            return 0;
    }
}

int hub_ref_parse(const char *s, int require_org, hub_ref *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    const char *at = strchr(s, '@');
    size_t rl = at ? (size_t)(at - s) : strlen(s);
    const char *slash = memchr(s, '/', rl);
    if (rl == 0 || rl > 96) {
        snprintf(err, errlen, "\"%s\": a hub model id is ORG/NAME (1 to 96 characters)", s);
        return -1;
    }
    if (require_org && !slash) {
        snprintf(err, errlen, "\"%s\": a hub model id is ORG/NAME", s);
        return -1;
    }
    size_t ol = slash ? (size_t)(slash - s) : 0;
    const char *name = slash ? slash + 1 : s;
    size_t nl = rl - (size_t)(name - s);
    if ((slash && !repo_part_ok(s, ol)) || !repo_part_ok(name, nl) || memchr(name, '/', nl)) {
        snprintf(err, errlen, "\"%.*s\" is not a hub model id: ORG/NAME, each of letters, digits, '_', '-', "
                              "'.', starting and ending with a letter, digit or '_'", (int)rl, s);
        return -1;
    }
    memcpy(r->repo, s, rl);
    memcpy(r->name, name, nl);
    for (size_t i = 0; i + 1 < rl; i++)
        if ((s[i] == '-' && s[i + 1] == '-') || (s[i] == '.' && s[i + 1] == '.')) {
            snprintf(err, errlen, "\"%s\": a hub model id cannot contain \"--\" or \"..\"", r->repo);
            return -1;
        }
    /* huggingface_hub's repo_folder_name: "models--" + id with '/' -> "--" */
    if (slash)
        snprintf(r->folder, sizeof r->folder, "models--%.*s--%s", (int)ol, s, r->name);
    else
        snprintf(r->folder, sizeof r->folder, "models--%s", r->name);
    const char *rev = at ? at + 1 : "main";
    if (!revision_ok(rev)) {
        snprintf(err, errlen, "\"%.80s\": a revision is a branch, tag or commit id (letters, digits, '_', '-', "
                              "'.', '+', '/' between names)", rev);
        return -1;
    }
    snprintf(r->revision, sizeof r->revision, "%s", rev);
    return 0;
}

static int all_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int hub_is_commit(const char *s) { return all_hex(s, 40); }
int hub_is_sha256(const char *s) { return all_hex(s, 64); }

int hub_etag_normalize(const char *raw, char *out, size_t cap)
{
    /* huggingface_hub: etag.lstrip("W/").strip('"') */
    while (*raw == 'W' || *raw == '/')
        raw++;
    while (*raw == '"')
        raw++;
    size_t n = strlen(raw);
    while (n > 0 && raw[n - 1] == '"')
        n--;
    if (n == 0 || n > 128 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!is_word(raw[i]) && raw[i] != '-')
            return -1;
    memcpy(out, raw, n);
    out[n] = '\0';
    return 0;
}

int hub_url_quote(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = is_word((char)c) || c == '.' || c == '~' || c == '-';
        if (o + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}
