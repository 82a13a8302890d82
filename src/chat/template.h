/* template.h: chat templates from messages to prompt, and where templates come from. */
#ifndef FRUGAL_CHAT_TEMPLATE_H
#define FRUGAL_CHAT_TEMPLATE_H

#include <time.h>

#include "base.h"

fr_status fr_chat_render(const char *tmpl, size_t tmpl_len, const frugal_chat_params *p, char **out, size_t *out_len,
                         fr_error *err);
fr_status fr_chat_template_from_hf(const char *path, const char *name, frugal_chat_template *out, fr_error *err);
/* bos/eos: token ids whose text becomes bos_token/eos_token (-1: none;
 * FR_CHAT_TOKEN_FROM_FILE: tokenizer.ggml.bos_token_id / eos_token_id) */
#define FR_CHAT_TOKEN_FROM_FILE INT64_MIN
fr_status fr_chat_template_from_gguf(const char *path, int64_t bos, int64_t eos, const char *name,
                                     frugal_chat_template *out, fr_error *err);
void fr_chat_template_free(frugal_chat_template *t);
/* "YYYY-MM-DD" to a calendar day at 00:00:00 (weekday and day of year filled); false if invalid */
bool fr_chat_parse_date(const char *s, struct tm *tm);

#endif
