/* fuzz_template.c: libFuzzer target. The input is a chat template: render it with a fixed
 * conversation (system, user, an assistant tool call, a tool result) and tools, under small
 * step and output limits. Errors are fine; crashes, leaks and sanitizer reports are not.
 * Built and run by tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>

#include "frugal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    frugal_chat_params p = frugal_chat_default_params();
    p.messages_json =
        "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi <b>&\"},"
        "{\"role\":\"assistant\",\"content\":\"Hello\",\"tool_calls\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"arguments\":{\"a\":[1,2.5,null,true]}}}]},{\"role\":\"tool\",\"content\":\"42\"}]";
    p.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}]";
    p.bos_token = "<s>";
    p.eos_token = "</s>";
    p.date = "2026-11-29";
    p.max_steps = 200000;
    p.max_output = 1 << 20;
    char *out = NULL;
    size_t n = 0;
    fr_error err;
    if (frugal_chat_render((const char *)data, size, &p, &out, &n, &err) == FR_OK) free(out);
    return 0;
}
