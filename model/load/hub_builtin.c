/* hub_builtin.c — the models compiled into the binary (the Fashion-MNIST default, 2 MB), so the
 * server answers with no model directory at hand. The bytes come from models/ at build time. */
#include "hub.h"

#include <string.h>

/* .incbin keeps the build fast (no 10 MB generated C array) and the bytes exact; the Makefile makes
 * this object depend on the files. The safetensors blob is 64-byte aligned like a mapping would be. */
__asm__(".section .rodata.deit_builtin,\"a\",@progbits\n"
        ".balign 64\n"
        "deit_builtin_fashion_st:\n"
        ".incbin \"models/fashion-deit/model.safetensors\"\n"
        "deit_builtin_fashion_st_end:\n"
        ".balign 64\n"
        "deit_builtin_fashion_cfg:\n"
        ".incbin \"models/fashion-deit/config.json\"\n"
        "deit_builtin_fashion_cfg_end:\n"
        ".balign 8\n"
        "deit_builtin_fashion_sizes:\n"
        ".quad deit_builtin_fashion_st_end - deit_builtin_fashion_st\n"
        ".quad deit_builtin_fashion_cfg_end - deit_builtin_fashion_cfg\n"
        ".previous\n");

/* Local assembler labels are reached through these hidden names (no relocation in a PIE). */
__asm__(".hidden deit_builtin_fashion_st\n.globl deit_builtin_fashion_st\n"
        ".hidden deit_builtin_fashion_cfg\n.globl deit_builtin_fashion_cfg\n"
        ".hidden deit_builtin_fashion_sizes\n.globl deit_builtin_fashion_sizes\n");
extern const unsigned char deit_builtin_fashion_st[];
extern const unsigned char deit_builtin_fashion_cfg[];
extern const unsigned long long deit_builtin_fashion_sizes[2];

int hub_builtin_find(const char *name, hub_builtin *out)
{
    if (!name || strcmp(name, "fashion-deit") != 0)
        return -1;
    out->name = "fashion-deit";
    out->safetensors = deit_builtin_fashion_st;
    out->safetensors_len = (size_t)deit_builtin_fashion_sizes[0];
    out->config_json = deit_builtin_fashion_cfg;
    out->config_len = (size_t)deit_builtin_fashion_sizes[1];
    return 0;
}
