/* synth.c: random-weight models of real shapes, so benchmarks run without downloads.
 *
 * The weights are uniform random (deterministic per seed and tensor name), quantized with
 * our own quantizers; norms are 1. Without a vocabulary file the tokenizer is a placeholder
 * SentencePiece vocab of the shape's size: <unk>, <s>, </s>, the 256 byte tokens, then
 * unique filler pieces, so the file also loads in other engines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frugal.h"
#include "io/gguf.h"
#include "model.h"
#include "tokenizer/tok_to_gguf.h"
#include "synth.h"

static const fr_synth_llama k_shapes[] = {
    {"tinyllama-1.1b", "llama", 32000, 2048, 2048, 22, 32, 4, 5632, 10000.0, 1e-5, false, false, false},
    {"llama-3.2-1b", "llama", 128256, 131072, 2048, 16, 32, 8, 8192, 500000.0, 1e-5, true, false, true},
    {"llama-2-7b", "llama", 32000, 4096, 4096, 32, 32, 32, 11008, 10000.0, 1e-5, false, false, false},
    {"qwen2-1.5b", "qwen2", 151936, 32768, 1536, 28, 12, 2, 8960, 1000000.0, 1e-6, true, true, false},
};

const char *frugal_synth_shapes(void) {
    return "tinyllama-1.1b, llama-3.2-1b, llama-2-7b, qwen2-1.5b, deepseek-v2-lite, deepseek-v3-mini";
}

/* ---- weight filling ---- */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static fr_status fill_tensor(void *dst, size_t nbytes, void *user, fr_error *err) {
    fill_spec *fs = user;
    const fr_type_traits *tt = fr_type_traits_get(fs->type);
    size_t rb;
    if (!tt || !tt->from_float || !fr_row_size(fs->type, fs->row, &rb))
        return fr_fail(err, FR_ERR_UNSUPPORTED, "synth: cannot write type %s", fr_type_name(fs->type));
    float *buf = malloc(sizeof(float) * (size_t)fs->row);
    if (!buf) return fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
    uint64_t s = fs->seed;
    for (int64_t r = 0; r < fs->rows; r++) {
        for (int64_t i = 0; i < fs->row; i++) {
            if (fs->scale == 0.0f) {
                buf[i] = 1.0f;
            } else {
                double u = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0);
                buf[i] = (float)((2.0 * u - 1.0) * fs->scale);
            }
        }
        tt->from_float(buf, (char *)dst + (size_t)r * rb, fs->row);
    }
    (void)nbytes;
    free(buf);
    return FR_OK;
}

bool fr_synth_parse_mix(const char *name, type_mix *mx) {
    int t = fr_type_from_name(name);
    if (!strcasecmp(name, "Q4_K_M")) {
        *mx = (type_mix){FR_TYPE_Q4_K, FR_TYPE_Q6_K, FR_TYPE_Q6_K, FR_TYPE_Q4_K};
        return true;
    }
    if (!strcasecmp(name, "Q5_K_M")) {
        *mx = (type_mix){FR_TYPE_Q5_K, FR_TYPE_Q6_K, FR_TYPE_Q6_K, FR_TYPE_Q5_K};
        return true;
    }
    if (!strcasecmp(name, "Q3_K_M")) {
        *mx = (type_mix){FR_TYPE_Q3_K, FR_TYPE_Q4_K, FR_TYPE_Q6_K, FR_TYPE_Q3_K};
        return true;
    }
    if (t < 0 || t == FR_TYPE_Q8_1 || t == FR_TYPE_Q8_K) return false;
    const fr_type_traits *tt = fr_type_traits_get(t);
    if (!tt || !tt->from_float) return false;
    int out = t == FR_TYPE_F32 || t == FR_TYPE_F16 || t == FR_TYPE_BF16 ? t : (t == FR_TYPE_Q8_0 ? t : FR_TYPE_Q6_K);
    *mx = (type_mix){t, t, out, t};
    return true;
}

/* llama.cpp-style "use more bits" layer selection for attn_v / ffn_down in _M mixes. */
bool fr_synth_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* Rows that are not a multiple of 256 cannot hold K-quant blocks: fall back as the
 * converters do (Q2_K/Q3_K -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0). */
static int fallback(int t, int64_t row) {
    if (row % QK_K == 0) return t;
    switch (t) {
    case FR_TYPE_Q2_K:
    case FR_TYPE_Q3_K: return FR_TYPE_IQ4_NL;
    case FR_TYPE_Q4_K: return FR_TYPE_Q5_0;
    case FR_TYPE_Q5_K: return FR_TYPE_Q5_1;
    case FR_TYPE_Q6_K: return FR_TYPE_Q8_0;
    default: return t;
    }
}

fr_status fr_synth_add3(synth_ctx *sc, const char *name, int type, int64_t ne0, int64_t ne1, int64_t ne2, float scale,
                        fr_error *err) {
    if (sc->n_specs == sc->cap) return fr_fail(err, FR_ERR_NOMEM, "synth: too many tensors");
    type = fallback(type, ne0);
    const fr_type_traits *tt = fr_type_traits_get(type);
    if (!tt || !tt->from_float || ne0 % tt->block_size != 0) type = FR_TYPE_F32;
    if (scale == 0.0f) type = FR_TYPE_F32; /* norms stay F32 */
    fill_spec *fs = &sc->specs[sc->n_specs++];
    *fs = (fill_spec){type, ne0, ne1 * ne2, sc->seed ^ hash_name(name), scale};
    int64_t ne[3] = {ne0, ne1, ne2};
    return gguf_writer_add_tensor(sc->w, name, type, ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1, ne, NULL, fill_tensor, fs, err);
}

static fr_status add(synth_ctx *sc, const char *name, int type, int64_t ne0, int64_t ne1, float scale, fr_error *err) {
    return fr_synth_add3(sc, name, type, ne0, ne1, 1, scale, err);
}

fr_status fr_synth_placeholder_vocab(gguf_writer *w, int64_t n, fr_error *err) {
    char **toks = calloc((size_t)n, sizeof *toks);
    float *scores = calloc((size_t)n, sizeof *scores);
    int32_t *types = calloc((size_t)n, sizeof *types);
    fr_status st = FR_OK;
    if (!toks || !scores || !types) st = fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
    for (int64_t i = 0; i < n && st == FR_OK; i++) {
        char buf[32];
        if (i == 0) snprintf(buf, sizeof buf, "<unk>");
        else if (i == 1) snprintf(buf, sizeof buf, "<s>");
        else if (i == 2) snprintf(buf, sizeof buf, "</s>");
        else if (i < 3 + 256) snprintf(buf, sizeof buf, "<0x%02X>", (unsigned)(i - 3));
        else snprintf(buf, sizeof buf, "\xe2\x96\x81t%lld", (long long)(i - 259));
        toks[i] = strdup(buf);
        if (!toks[i]) st = fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
        scores[i] = i < 259 ? 0.0f : -(float)(i - 259);
    }
    if (st == FR_OK) st = gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    if (st == FR_OK) st = gguf_writer_set_str(w, "tokenizer.ggml.pre", "default");
    if (st == FR_OK) st = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, NULL, (uint64_t)n);
    if (st == FR_OK) st = gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, (uint64_t)n);
    if (st == FR_OK) st = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, (uint64_t)n);
    if (st == FR_OK) st = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (st == FR_OK) st = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    if (st == FR_OK) st = gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    if (st == FR_OK && err) err->code = FR_OK;
    if (st != FR_OK && err && err->code == FR_OK) fr_fail(err, st, "synth: cannot write the vocabulary");
    for (int64_t i = 0; toks && i < n; i++) free(toks[i]);
    free(toks);
    free(scores);
    free(types);
    return st;
}

fr_status frugal_synth(const char *shape, const char *type_name, uint64_t seed, const char *vocab_path,
                       const char *out_path, fr_error *err) {
    const fr_synth_ds *ds = fr_synth_ds_find(shape);
    if (ds) return fr_synth_deepseek2(ds, type_name, seed, vocab_path, out_path, err);
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        if (!strcmp(k_shapes[i].name, shape))
            return fr_synth_llama_write(&k_shapes[i], type_name, seed, vocab_path, out_path, err);
    return fr_fail(err, FR_ERR_ARG, "synth: unknown shape '%s' (known: %s)", shape, frugal_synth_shapes());
}

fr_status fr_synth_llama_write(const fr_synth_llama *sh, const char *type_name, uint64_t seed, const char *vocab_path,
                               const char *out_path, fr_error *err) {
    type_mix mx;
    if (!fr_synth_parse_mix(type_name ? type_name : "F16", &mx))
        return fr_fail(err, FR_ERR_ARG, "synth: --type '%s' (expected F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
                                        "IQ4_NL, Q2_K..Q6_K, Q3_K_M, Q4_K_M or Q5_K_M)", type_name);
    gguf_writer *w = gguf_writer_new();
    if (!w) return fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
    synth_ctx sc = {w, NULL, 0, 16 + (int)sh->n_layer * 16, seed};
    sc.specs = calloc((size_t)sc.cap, sizeof *sc.specs);
    gguf_file *vocab = NULL;
    fr_status st = sc.specs ? FR_OK : fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
    int64_t n_vocab = sh->n_vocab;
    size_t vl = vocab_path ? strlen(vocab_path) : 0;
    bool json_vocab = vl > 5 && !strcmp(vocab_path + vl - 5, ".json");
    if (st == FR_OK && json_vocab) {
        /* a Hugging Face tokenizer.json: written as tokenizer.ggml.* keys (the tokenizer
         * module owns that conversion; synth only writes files, it never tokenizes) */
        st = fr_tok_json_to_gguf(vocab_path, w, &n_vocab, err);
    } else if (st == FR_OK && vocab_path) {
        st = gguf_open(vocab_path, &vocab, err);
        const gguf_kv *toks = NULL;
        if (st == FR_OK && gguf_get_arr(vocab, "tokenizer.ggml.tokens", GGUF_STRING, &toks, err) != 1)
            st = fr_fail(err, FR_ERR_FORMAT, "%s: no tokenizer.ggml.tokens (expected a GGUF with a vocabulary)", vocab_path);
        if (st == FR_OK) n_vocab = (int64_t)toks->arr_n;
    }
    const char *A = sh->arch;
    char key[128];
#define SETU(k, v) do { if (st == FR_OK) { snprintf(key, sizeof key, "%s." k, A); st = gguf_writer_set_u32(w, key, (uint32_t)(v)); } } while (0)
#define SETF(k, v) do { if (st == FR_OK) { snprintf(key, sizeof key, "%s." k, A); st = gguf_writer_set_f32(w, key, (float)(v)); } } while (0)
    if (st == FR_OK) st = gguf_writer_set_str(w, "general.architecture", A);
    if (st == FR_OK) {
        char nm[128];
        snprintf(nm, sizeof nm, "synth-%s-%s", sh->name, type_name ? type_name : "F16");
        st = gguf_writer_set_str(w, "general.name", nm);
    }
    if (st == FR_OK) st = gguf_writer_set_u32(w, "general.quantization_version", 2);
    SETU("context_length", sh->n_ctx);
    SETU("embedding_length", sh->n_embd);
    SETU("block_count", sh->n_layer);
    SETU("feed_forward_length", sh->n_ff);
    SETU("attention.head_count", sh->n_head);
    SETU("attention.head_count_kv", sh->n_head_kv);
    SETU("rope.dimension_count", sh->n_embd / sh->n_head);
    SETU("vocab_size", n_vocab);
    SETF("rope.freq_base", sh->rope_base);
    SETF("attention.layer_norm_rms_epsilon", sh->rms_eps);
#undef SETU
#undef SETF
    if (st == FR_OK) {
        if (vocab) {
            st = gguf_writer_copy_kv(w, vocab, "tokenizer.", NULL);
            if (st != FR_OK && err->code == FR_OK) fr_fail(err, st, "synth: cannot copy the vocabulary");
        } else if (!json_vocab) {
            st = fr_synth_placeholder_vocab(w, n_vocab, err);
        }
    }
    int64_t E = sh->n_embd, hd = sh->n_embd / sh->n_head, kvd = sh->n_head_kv * hd;
    float ws = 0.05f;
    if (st == FR_OK) st = add(&sc, "token_embd.weight", mx.embd, E, n_vocab, ws, err);
    if (st == FR_OK) st = add(&sc, "output_norm.weight", FR_TYPE_F32, E, 1, 0.0f, err);
    if (st == FR_OK && !sh->tied) st = add(&sc, "output.weight", mx.output, E, n_vocab, ws, err);
    float *rope_ff = NULL;
    if (st == FR_OK && sh->llama3_rope) {
        /* Llama 3.x: factor 32, low 1, high 4, original context 8192 -> per-frequency divisors */
        int64_t half = hd / 2;
        float *ff = malloc(sizeof(float) * (size_t)half);
        if (!ff) st = fr_fail(err, FR_ERR_NOMEM, "synth: out of memory");
        for (int64_t i = 0; st == FR_OK && i < half; i++) {
            double freq = pow(sh->rope_base, -2.0 * (double)i / (double)hd);
            double wavelen = 2.0 * M_PI / freq, lo = 8192.0 / 1.0, hi = 8192.0 / 4.0;
            if (wavelen < hi) ff[i] = 1.0f;
            else if (wavelen > lo) ff[i] = 32.0f;
            else {
                double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
                ff[i] = (float)(1.0 / ((1.0 - smooth) / 32.0 + smooth));
            }
        }
        int64_t ne[1] = {half};
        if (st == FR_OK) st = gguf_writer_add_tensor(w, "rope_freqs.weight", FR_TYPE_F32, 1, ne, ff, NULL, NULL, err);
        rope_ff = ff; /* the writer reads it at write time */
    }
    char name[96];
    for (int64_t l = 0; l < sh->n_layer && st == FR_OK; l++) {
        bool mb = fr_synth_more_bits(l, sh->n_layer);
#define T(suffix, type, n0, n1, sc_)                                                      \
        if (st == FR_OK) {                                                                \
            snprintf(name, sizeof name, "blk.%lld." suffix, (long long)l);                \
            st = add(&sc, name, type, n0, n1, sc_, err);                                  \
        }
        T("attn_norm.weight", FR_TYPE_F32, E, 1, 0.0f);
        T("attn_q.weight", mx.base, E, E, ws);
        T("attn_k.weight", mx.base, E, kvd, ws);
        T("attn_v.weight", mb ? mx.more_bits : mx.base, E, kvd, ws);
        T("attn_output.weight", mx.base, E, E, ws);
        if (sh->biases) {
            T("attn_q.bias", FR_TYPE_F32, E, 1, ws);
            T("attn_k.bias", FR_TYPE_F32, kvd, 1, ws);
            T("attn_v.bias", FR_TYPE_F32, kvd, 1, ws);
        }
        T("ffn_norm.weight", FR_TYPE_F32, E, 1, 0.0f);
        T("ffn_gate.weight", mx.base, E, sh->n_ff, ws);
        T("ffn_up.weight", mx.base, E, sh->n_ff, ws);
        T("ffn_down.weight", mb ? mx.more_bits : mx.base, sh->n_ff, E, ws);
#undef T
    }
    if (st == FR_OK) st = gguf_writer_write(w, out_path, 32, err);
    free(rope_ff);
    gguf_close(vocab);
    gguf_writer_free(w);
    free(sc.specs);
    return st;
}
