/* web_page.h — the page served at GET / to browsers: generated from web/ by tools/embed_web.sh. */
#ifndef DEIT_SERVER_WEB_PAGE_H
#define DEIT_SERVER_WEB_PAGE_H

#include <stddef.h>

extern const unsigned char web_page_html[]; /* the whole document, UTF-8 */
extern const size_t web_page_html_len;
/* Content-Security-Policy for it: nothing but its own inline style and script (by SHA-256),
 * fetches to its own origin, images from data:/blob: URLs. */
extern const char web_page_csp[];

#endif
