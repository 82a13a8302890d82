/* reasoning.h: the streaming <think>/</think> splitter behind frugal_reasoning_*. */
#ifndef FRUGAL_CHAT_REASONING_H
#define FRUGAL_CHAT_REASONING_H

#include "frugal.h"

void fr_reasoning_init(frugal_reasoning *r, bool starts_in_reasoning, bool trim);
void fr_reasoning_feed(frugal_reasoning *r, const char *text, size_t len, frugal_text_fn fn, void *user);
void fr_reasoning_flush(frugal_reasoning *r, frugal_text_fn fn, void *user);
bool fr_prompt_opens_reasoning(const char *prompt, size_t len);

#endif
