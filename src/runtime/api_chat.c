/* api_chat.c: the public chat-template and reasoning API (frugal.h) over src/chat. */
#include <string.h>

#include "chat/reasoning.h"
#include "chat/template.h"
#include "frugal.h"

frugal_chat_params frugal_chat_default_params(void) {
    frugal_chat_params p;
    memset(&p, 0, sizeof p);
    p.add_generation_prompt = true;
    return p;
}

fr_status frugal_chat_render(const char *tmpl, size_t tmpl_len, const frugal_chat_params *p, char **out,
                             size_t *out_len, fr_error *err) {
    return fr_chat_render(tmpl, tmpl_len, p, out, out_len, err);
}

fr_status frugal_chat_template_from_model(const frugal_model *m, const char *name, frugal_chat_template *out,
                                          fr_error *err) {
    frugal_model_info info;
    frugal_model_get_info(m, &info);
    return fr_chat_template_from_gguf(info.path, info.bos, info.eos, name, out, err);
}

fr_status frugal_chat_template_from_gguf(const char *path, const char *name, frugal_chat_template *out,
                                         fr_error *err) {
    return fr_chat_template_from_gguf(path, FR_CHAT_TOKEN_FROM_FILE, FR_CHAT_TOKEN_FROM_FILE, name, out, err);
}

fr_status frugal_chat_template_from_hf(const char *path, const char *name, frugal_chat_template *out, fr_error *err) {
    return fr_chat_template_from_hf(path, name, out, err);
}

void frugal_chat_template_free(frugal_chat_template *t) { fr_chat_template_free(t); }

void frugal_reasoning_init(frugal_reasoning *r, bool starts_in_reasoning, bool trim) {
    fr_reasoning_init(r, starts_in_reasoning, trim);
}
void frugal_reasoning_feed(frugal_reasoning *r, const char *text, size_t len, frugal_text_fn fn, void *user) {
    fr_reasoning_feed(r, text, len, fn, user);
}
void frugal_reasoning_flush(frugal_reasoning *r, frugal_text_fn fn, void *user) { fr_reasoning_flush(r, fn, user); }
bool frugal_prompt_opens_reasoning(const char *prompt, size_t len) { return fr_prompt_opens_reasoning(prompt, len); }
