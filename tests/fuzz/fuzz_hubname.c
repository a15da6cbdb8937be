/* fuzz_hubname.c — hub names from hostile hands: repo ids and revisions (from --model), timm model
 * names (ARCH[.TAG], read as timm/ARCH.TAG; deprecated ones as their current ARCH) and etags (from a
 * server) must either be refused or be safe as cache path components. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub_internal.h"
#include "timm_names.h"

/* A path component the cache may use: no "..", no '/', no NUL, not empty. */
static void assert_component(const char *s)
{
    if (!*s || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[512], out[200], err[256];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    hub_ref r;
    for (int require_org = 0; require_org < 2; require_org++) {
        if (hub_ref_parse(s, require_org, &r, err, sizeof err) != 0)
            continue;
        assert_component(r.folder);
        assert_component(r.name);
        if (strstr(r.repo, "..") || strstr(r.repo, "--") || r.revision[0] == '/' || strstr(r.revision, "//"))
            abort();
        for (const char *c = r.revision; *c;) { /* every component of the revision is plain */
            const char *e = strchr(c, '/');
            size_t cl = e ? (size_t)(e - c) : strlen(c);
            if (cl == 0 || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
                abort();
            c += cl + (e ? 1 : 0);
        }
    }
    /* a timm name becomes timm/<the name>[.<default tag>] at main (a deprecated one timm/<its current
     * name's ARCH>.<its own tag, else the current one>), or nothing */
    if (timm_name_ref(s, &r) == 0) {
        assert_component(r.folder);
        assert_component(r.name);
        size_t al = strcspn(s, ".");
        const char *cur = timm_deprecated_name(s, al), *arch = cur ? cur : s;
        size_t cl = cur ? strcspn(cur, ".") : al;
        if (strncmp(r.repo, "timm/", 5) != 0 || strncmp(r.name, arch, cl) != 0 || r.name[cl] != '.' ||
            (s[al] && strcmp(r.name + cl, s + al) != 0) || strcmp(r.revision, "main") != 0 || strchr(s, '/') ||
            strchr(s, '@') || strstr(r.repo, ".."))
            abort();
    }
    char hint[64];
    if (timm_name_suggest(s, hint, sizeof hint) && (strlen(hint) >= sizeof hint || strncmp(hint, "hf://timm/", 10) != 0))
        abort();
    if (hub_etag_normalize(s, out, sizeof out) == 0)
        assert_component(out);
    char q[1600];
    if (hub_url_quote(s, q, sizeof q) == 0 && (strchr(q, '/') || strchr(q, '?') || strchr(q, '#')))
        abort();
    return 0;
}
