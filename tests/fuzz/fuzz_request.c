/* fuzz_request.c: libFuzzer target. The input is the body of an OpenAI-style request:
 * parse and validate it as /v1/chat/completions and as /v1/completions against a tiny model
 * with a real tokenizer and chat template (tests/data/models/llama3-tiny-F16.gguf: the
 * messages are rendered and tokenized), then write the error object for a refused one. A
 * response_format schema is compiled (json_schema.c), and the input's own bytes are then run
 * through its guard (json_guard.c) as generation would: each tried on a copy, kept if taken.
 * Built and run by tests/fuzz/run.sh from the repository's root. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "frugal.h"
#include "serve.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv_model_ctx g_mc; /* the fuzzer's fixture: one model for every input */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    static const char path[] = "tests/data/models/llama3-tiny-F16.gguf";
    frugal_model *m;
    fr_error err;
    if (frugal_model_open(path, false, &m, &err) != FR_OK) {
        fprintf(stderr, "fuzz_request: %s\n", err.msg);
        exit(2);
    }
    g_mc.m = m;
    g_mc.tok = frugal_model_tokenizer(m, &err);
    frugal_chat_template t;
    if (frugal_chat_template_from_model(m, NULL, &t, &err) == FR_OK) {
        g_mc.tmpl = t.source;
        g_mc.tmpl_vars = t.vars_json;
    }
    g_mc.model_id = "fuzz";
    g_mc.n_ctx = 256;
    g_mc.n_slots = 2;
    if (!g_mc.tok) {
        fprintf(stderr, "fuzz_request: %s: no tokenizer\n", path);
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body) return 0;
    for (int kind = SRV_CHAT; kind <= SRV_COMPLETION; kind++) {
        srv_error e = {0};
        srv_request *r = oai_parse_generation(&g_mc, (srv_kind)kind, body, &e);
        if (r) {
            if (r->p.schema) {
                static json_guard g, t; /* large: not on the stack */
                json_guard_init(&g, r->p.schema);
                for (size_t i = 0; i < size; i++) {
                    json_guard_copy(&t, &g);
                    if (json_guard_feed(&t, data[i])) json_guard_feed(&g, data[i]);
                    (void)json_guard_can_end(&g);
                }
            }
            srv_request_release(r);
        } else {
            char *s = oai_error_json(&e);
            free(s);
        }
    }
    json_decref(body);
    return 0;
}
