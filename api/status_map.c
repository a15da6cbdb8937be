/* status_map.c — the status tables; see status_map.h. */
#include "status_map.h"

#include <stddef.h>

#include "multipart.h"
#include "status.h"
#include "v2.h"

typedef struct {
    int code, http;
} code_map;

static int lookup(const code_map *t, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code) return t[i].http;
    return 500;
}

#define LOOKUP(t, code) lookup(t, sizeof t / sizeof t[0], code)

static const code_map DEIT_HTTP[] = {
    {DEIT_OK, 200}, {DEIT_EINVAL, 400}, {DEIT_ETOOBIG, 413}, {DEIT_EUNSUPPORTED, 415},
    {DEIT_ENOMEM, 503}, {DEIT_EIO, 500},
};

static const code_map MP_HTTP[] = {
    {MP_OK, 200}, {MP_EINVAL, 400}, {MP_ETOOMANY, 413}, {MP_ETOOBIG, 413},
};

static const code_map V2_HTTP[] = {
    {V2_OK, 200}, {V2_EINVAL, 400}, {V2_ETOOMANY, 413}, {V2_ENOMEM, 503},
};

static const code_map HTTP_GRPC[] = {
    {400, 3}, {401, 16}, {403, 7}, {404, 5}, {405, 12}, {413, 8}, {415, 3}, {429, 8}, {500, 13},
    {501, 12}, {503, 14}, {504, 4},
};

int api_http_of_deit(int s) { return LOOKUP(DEIT_HTTP, s); }
int api_http_of_mp(int s) { return LOOKUP(MP_HTTP, s); }
int api_http_of_v2(int s) { return LOOKUP(V2_HTTP, s); }

int api_grpc_of_http(int http)
{
    if (http >= 200 && http < 300) return 0;
    for (size_t i = 0; i < sizeof HTTP_GRPC / sizeof HTTP_GRPC[0]; i++)
        if (HTTP_GRPC[i].code == http) return HTTP_GRPC[i].http;
    return 13;
}

int api_http_retry_after(int http) { return http == 503; }
