/* jinja_str.h: Python str operations shared by the str methods and the filters. */
#ifndef FRUGAL_CHAT_JINJA_STR_H
#define FRUGAL_CHAT_JINJA_STR_H

#include "chat/jinja_int.h"

enum { JS_LOWER, JS_UPPER, JS_TITLE, JS_CAPITALIZE };

/* mode: 1 lstrip, 2 rstrip, 3 strip; chars: None (whitespace) or a str */
jv js_strip(jj_ctx *c, jstr *s, jv chars, int mode, int line);
/* sep: None (runs of whitespace) or a str; maxsplit < 0: no limit */
jv js_split(jj_ctx *c, jstr *s, jv sep, int64_t maxsplit, bool from_right, int line);
jv js_case(jj_ctx *c, jstr *s, int mode);
/* str.islower() (upper = false) and str.isupper() */
bool js_is_case(const jstr *s, bool upper);
jv js_replace(jj_ctx *c, jstr *s, const jstr *old, const jstr *rep, int64_t count);
jv js_splitlines(jj_ctx *c, jstr *s, bool keepends);
jv jj_dict_items(jj_ctx *c, const jdict *d);

#endif
