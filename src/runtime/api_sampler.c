/* api_sampler.c: the public sampler API (frugal.h) over src/sample. */
#include "frugal.h"
#include "sample/sampler.h"

frugal_sampler_params frugal_sampler_default_params(void) {
    fr_sampler_params d = fr_sampler_params_default();
    frugal_sampler_params p = {d.temperature, d.top_k, d.top_p, d.min_p, d.repeat_penalty,
                               d.frequency_penalty, d.presence_penalty, d.penalty_last_n, d.seed};
    return p;
}

fr_status frugal_sampler_new(const frugal_sampler_params *p, int64_t n_vocab, frugal_sampler **out, fr_error *err) {
    fr_sampler_params sp = fr_sampler_params_default();
    if (p) {
        sp.temperature = p->temperature;
        sp.top_k = p->top_k;
        sp.top_p = p->top_p;
        sp.min_p = p->min_p;
        sp.repeat_penalty = p->repeat_penalty;
        sp.frequency_penalty = p->frequency_penalty;
        sp.presence_penalty = p->presence_penalty;
        sp.penalty_last_n = p->penalty_last_n;
        sp.seed = p->seed;
    }
    if (n_vocab <= 0 || n_vocab > INT32_MAX)
        return fr_fail(err, FR_ERR_ARG, "sampler: vocabulary size %lld (expected 1..%d)", (long long)n_vocab, INT32_MAX);
    return fr_sampler_new(&sp, (int32_t)n_vocab, out, err);
}

void frugal_sampler_free(frugal_sampler *s) { fr_sampler_free(s); }
int32_t frugal_sampler_sample(frugal_sampler *s, const float *logits, fr_error *err) {
    return fr_sampler_sample(s, logits, err);
}
void frugal_sampler_accept(frugal_sampler *s, int32_t token) { (void)fr_sampler_accept(s, token); }
