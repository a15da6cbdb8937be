/* labels.c — the class names: from the config (timm label_names / label_descriptions, transformers
 * id2label), else ImageNet's for 1000 classes, else class_<i>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int set_label(const jsrc *s, deit_config *cfg, int i, const json_t *v, const char *field,
                     const char *key)
{
    if (!json_is_string(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s[%s]: expected a string", s->file, field, key);
    if (json_string_length(v) > DEIT_MAX_LABEL_BYTES)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s[%s]: label longer than %d bytes", s->file,
                         field, key, DEIT_MAX_LABEL_BYTES);
    if (cfg->labels[i])
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: index %d given twice", s->file, field, i);
    cfg->labels[i] = strdup(json_string_value(v));
    if (!cfg->labels[i]) return deit_fail(s->err, s->errlen, DEIT_ENOMEM, "out of memory");
    return DEIT_OK;
}

/* Label names from an array (index order) or an object. Objects keyed "0".."K-1" (transformers
 * id2label) map by index; other objects (timm label_descriptions) are read in file order, which
 * jansson preserves. The count must equal n_classes. Returns 1 if labels were set, 0 if absent. */
static int labels_from(const jsrc *s, const json_t *root, const char *field, int by_index, deit_config *cfg)
{
    const json_t *v = jget(root, field);
    if (!v) return 0;
    int k = cfg->n_classes;
    size_t n = json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
    if (!json_is_object(v) && (by_index || !json_is_array(v)))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: expected %s", s->file, field,
                         by_index ? "an object" : "an array or an object");
    if (n != (size_t)k)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: %zu labels but the head has %d classes",
                         s->file, field, n, k);
    int rc;
    char key[32];
    if (json_is_array(v)) {
        for (int i = 0; i < k; i++) {
            snprintf(key, sizeof key, "%d", i);
            if ((rc = set_label(s, cfg, i, json_array_get(v, (size_t)i), field, key))) return rc;
        }
        return 1;
    }
    const char *name;
    const json_t *val;
    int i = 0;
    json_object_foreach((json_t *)v, name, val) {
        int idx = i++;
        if (by_index) {
            /* Plain decimal without leading zeros, so "01" cannot alias "1". */
            char *end;
            long x = strtol(name, &end, 10);
            if (!(name[0] >= '0' && name[0] <= '9') || *end || (name[0] == '0' && name[1]) || x < 0 || x >= k)
                return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                                 "%s: %s: key '%s' is not a class index in 0..%d", s->file, field, name, k - 1);
            idx = (int)x;
        }
        if ((rc = set_label(s, cfg, idx, val, field, name))) return rc;
    }
    return 1;
}

/* Fills cfg->labels (n_classes entries): config names, else ImageNet for 1000 classes, else
 * "class_<i>". */
int resolve_labels(const jsrc *s, const json_t *root, weight_layout layout, deit_config *cfg)
{
    cfg->labels = calloc((size_t)cfg->n_classes, sizeof *cfg->labels);
    if (!cfg->labels) return deit_fail(s->err, s->errlen, DEIT_ENOMEM, "out of memory");
    int rc;
    if (layout == LAYOUT_TIMM) {
        if ((rc = labels_from(s, root, "label_names", 0, cfg))) return rc < 0 ? rc : DEIT_OK;
        if ((rc = labels_from(s, root, "label_descriptions", 0, cfg))) return rc < 0 ? rc : DEIT_OK;
    } else {
        if ((rc = labels_from(s, root, "id2label", 1, cfg))) return rc < 0 ? rc : DEIT_OK;
    }
    for (int i = 0; i < cfg->n_classes; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class_%d", i);
        cfg->labels[i] = strdup(cfg->n_classes == 1000 ? deit_imagenet_labels[i] : buf);
        if (!cfg->labels[i]) return deit_fail(s->err, s->errlen, DEIT_ENOMEM, "out of memory");
    }
    return DEIT_OK;
}
