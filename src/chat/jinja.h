/* jinja.h: a sandboxed Jinja subset for chat templates.
 *
 * Renders like Python's jinja2 in Hugging Face's setup: ImmutableSandboxedEnvironment with
 * trim_blocks, lstrip_blocks and the loopcontrols extension; the globals raise_exception(msg)
 * and strftime_now(fmt); the tojson filter of transformers (ensure_ascii=False, indent,
 * separators, sort_keys). The output is byte-identical to jinja2's for what the subset
 * supports; anything else is an error naming the template line (FR_ERR_UNSUPPORTED).
 *
 * Sandbox (shared/CHECKLIST.md item 18): no file, import, include or environment access;
 * limits on evaluation steps, output bytes, nesting depth and memory (FR_ERR_RANGE). */
#ifndef FRUGAL_CHAT_JINJA_H
#define FRUGAL_CHAT_JINJA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "frugal.h"

typedef struct jj_options {
    int64_t max_steps;   /* 0: 50,000,000 */
    size_t max_output;   /* bytes, 0: 64 MiB */
    int max_depth;       /* macro calls, nested expressions and statements; 0: 200 */
    size_t max_memory;   /* bytes allocated while rendering; 0: 1 GiB */
    const struct tm *now;/* what strftime_now formats; NULL: the local time */
    const char *name;    /* for messages; NULL: "chat template" */
} jj_options;

/* Renders `src` (len bytes, UTF-8) with the variables of the JSON object `vars`.
 * On success *out is a malloc'd NUL-terminated string of *out_len bytes.
 * Errors: FR_ERR_FORMAT (syntax, type and undefined errors, raise_exception: the message
 * is the template's own), FR_ERR_UNSUPPORTED (valid Jinja outside the subset),
 * FR_ERR_RANGE (a limit), FR_ERR_NOMEM; the message names the template line. */
fr_status jj_render(const char *src, size_t len, const json_t *vars, const jj_options *o, char **out,
                    size_t *out_len, fr_error *err);

#endif
