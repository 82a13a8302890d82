/* fuzz_tokenizer.c: libFuzzer target. The input is a Hugging Face tokenizer.json: load it,
 * encode a fixed text (special tokens parsed, BOS/EOS added) and decode the ids with and
 * without special tokens. Built and run by tests/fuzz/run.sh. */
#include <stdint.h>

#include "frugal.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_input("tokenizer.json", data, size);
    if (!path) return 0;
    frugal_tokenizer *t;
    fr_error err;
    if (frugal_tokenizer_load(path, &t, &err) != FR_OK) return 0;
    static const char text[] = "Hello  world!\n<|begin|> He's 1234 <s>\xe4\xbd\xa0\xff\xc3 \t\t x\r\n";
    int32_t ids[128];
    int64_t n = frugal_tokenizer_encode(t, text, sizeof text - 1, true, true, ids, 128, &err);
    if (n > 0) {
        char out[512];
        frugal_tokenizer_decode(t, ids, n < 128 ? n : 128, true, out, sizeof out, &err);
        frugal_tokenizer_decode(t, ids, n < 128 ? n : 128, false, out, sizeof out, &err);
    }
    frugal_tokenizer_free(t);
    return 0;
}
