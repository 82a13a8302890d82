/* test_tiles: every dot-product tile shape gives, per element, exactly the bits of vec_dot
 * (the property batch invariance rests on), at odd block counts. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"

int main(void) {
    const int types[] = {FR_TYPE_Q4_0, FR_TYPE_Q5_0, FR_TYPE_Q8_0, FR_TYPE_IQ4_NL};
    const int64_t sizes[] = {32, 64, 96, 160, 224, 1056, 4096 + 32};
    test_rng rng = {12345};
    int tested = 0;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const fr_type_traits *tt = fr_type_traits_get(types[ti]);
        const fr_type_traits *at = fr_type_traits_get(tt->vec_dot_type);
        if (!tt->dot_tile) continue; /* scalar build or CPU without AVX2 */
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            int64_t n = sizes[si];
            size_t rb, ab;
            fr_row_size(types[ti], n, &rb);
            fr_row_size(tt->vec_dot_type, n, &ab);
            char *w = malloc(rb * 4), *a = malloc(ab * 2);
            float *f = malloc(sizeof(float) * (size_t)n);
            for (int r = 0; r < 4; r++) {
                for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(&rng) * (1.0f + (float)r);
                tt->from_float(f, w + (size_t)r * rb, n);
            }
            for (int t = 0; t < 2; t++) {
                for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(&rng) * 3.0f;
                at->from_float(f, a + (size_t)t * ab, n);
            }
            for (int nr = 1; nr <= 4; nr++) {
                for (int nt = 1; nt <= 2; nt++) {
                    const void *xs[4], *ys[2];
                    for (int r = 0; r < nr; r++) xs[r] = w + (size_t)r * rb;
                    for (int t = 0; t < nt; t++) ys[t] = a + (size_t)t * ab;
                    float out[8];
                    tt->dot_tile(n, xs, nr, ys, nt, out);
                    for (int r = 0; r < nr; r++) {
                        for (int t = 0; t < nt; t++) {
                            float s;
                            tt->vec_dot(n, &s, xs[r], ys[t]);
                            CHECK(memcmp(&s, &out[r * nt + t], sizeof s) == 0,
                                  "%s n=%lld tile %dx%d element (%d,%d): %.9g vs vec_dot %.9g", tt->name,
                                  (long long)n, nr, nt, r, t, out[r * nt + t], s);
                        }
                    }
                    tested++;
                }
            }
            free(w);
            free(a);
            free(f);
        }
    }
    if (!tested) printf("test_tiles: no tile kernels on this CPU (scalar build): nothing to compare\n");
    return CHECK_DONE("test_tiles");
}
