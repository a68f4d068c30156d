/*
 * fuzz_json.c -- libFuzzer target for the input-line JSON reader (src/cli/json.c): any
 * bytes, parsed as one line. Besides the sanitizers, the target checks the reader's
 * promises: a refusal always says why, and every string it hands back is NUL-terminated
 * within bounds (walking the whole tree reads every byte of it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct json *v, int depth)
{
    size_t n = v->text ? strlen(v->text) : 0;
    if (depth > JSON_MAX_DEPTH + 1)
        abort();
    for (size_t i = 0; i < v->n; i++) {
        n += walk(&v->items[i], depth + 1);
        if (v->type == JSON_OBJECT)
            n += strlen(v->keys[i]);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1), why[160];
    struct json v;
    if (line == NULL)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    why[0] = '\0';
    if (json_parse(line, &v, why, sizeof why) < 0) {
        if (why[0] == '\0')
            abort();
    } else if (walk(&v, 0) > 4 * size + 16) {
        abort(); /* decoded text is never much longer than its source */
    }
    json_free(&v);
    free(line);
    return 0;
}
