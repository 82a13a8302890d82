/* fuzz_model.c: libFuzzer target. The input is a GGUF file: open the model (no repacking),
 * read its chat template and tokenizer, encode and decode a fixed text, and evaluate two
 * tokens in a small context. Whatever the bytes, nothing may crash, leak or trip a sanitizer.
 * Built and run by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>

#include "frugal.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_input("model.gguf", data, size);
    if (!path) return 0;
    frugal_model *m;
    fr_error err;
    if (frugal_model_open(path, false, &m, &err) != FR_OK) return 0;
    frugal_chat_template ct;
    if (frugal_chat_template_from_model(m, NULL, &ct, &err) == FR_OK) frugal_chat_template_free(&ct);
    const frugal_tokenizer *tk = frugal_model_tokenizer(m, &err);
    if (tk) {
        static const char text[] = "Hello world! <|im_start|> 123 \xe4\xbd\xa0\xff\n  x";
        int32_t ids[64];
        int64_t n = frugal_tokenizer_encode(tk, text, sizeof text - 1, true, true, ids, 64, &err);
        if (n > 0) {
            char out[256];
            frugal_tokenizer_decode(tk, ids, n < 64 ? n : 64, true, out, sizeof out, &err);
        }
    }
    int64_t V = frugal_model_n_vocab(m);
    frugal_context_params cp = frugal_context_default_params();
    cp.n_ctx = 8;
    cp.n_batch = 4;
    cp.n_threads = 1;
    frugal_context *c;
    if (V > 0 && V < 1000000 && frugal_context_new(m, &cp, &c, &err) == FR_OK) {
        float *lg = malloc(sizeof(float) * (size_t)V);
        int32_t t[2] = {1 % (int32_t)V, 2 % (int32_t)V};
        if (lg) frugal_eval(c, t, 2, lg, 1, &err);
        free(lg);
        frugal_context_free(c);
    }
    frugal_model_free(m);
    return 0;
}
