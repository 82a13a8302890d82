/* test_model_load: model-level bad input (shared/CHECKLIST.md items 6, 12-15, 19-20).
 *
 * Each case writes a tiny llama model with the GGUF writer, with one thing wrong, and
 * checks that loading fails with a message naming the field and the value, or, where the
 * checklist documents a softer handling (unused tensors, special ids out of range, NaN
 * weights), that it loads and behaves as documented. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "frugal.h"
#include "io/gguf.h"
#include "model/model.h"

enum { E = 64, L = 2, H = 4, HKV = 2, FF = 128, V = 300 };

typedef struct {
    const char *skip_tensor;   /* leave this tensor out */
    const char *bad_shape;     /* give this tensor a wrong row count */
    const char *extra_tensor;  /* add an unused tensor */
    const char *arch;          /* general.architecture (default llama) */
    int64_t block_count;       /* default L */
    int64_t head_count;        /* default H */
    int64_t head_count_kv;     /* default HKV */
    int64_t key_length;        /* 0: absent */
    double rope_base;          /* 0: default 10000 */
    int64_t vocab_size_key;    /* 0: absent */
    int64_t n_tokens;          /* tokens in tokenizer.ggml.tokens (default V) */
    int64_t n_types;           /* entries in token_type (default = n_tokens) */
    int64_t eos_id;            /* default 2 */
    bool nan_weight;           /* a NaN in blk.0.ffn_up.weight */
    bool no_arch;
    bool eos_always; /* output row of the EOS token scaled up: greedy always picks it */
    const char *rope_scaling; /* rope.scaling.type, or NULL */
    double rope_factor;       /* rope.scaling.factor (0: absent) */
} spec;

static char g_dir[256];

static void defaults(spec *s) {
    memset(s, 0, sizeof *s);
    s->block_count = L;
    s->head_count = H;
    s->head_count_kv = HKV;
    s->n_tokens = V;
    s->n_types = -1;
    s->eos_id = 2;
}

static float *rand_floats(int64_t n, uint64_t seed) {
    test_rng r = {seed};
    float *f = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) f[i] = test_rng_float(&r) * 0.1f;
    return f;
}

/* Writes the model; returns its path (static buffer). */
static const char *write_model(const char *name, const spec *s) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", g_dir, name);
    gguf_writer *w = gguf_writer_new();
    fr_error err;
    if (!s->no_arch) gguf_writer_set_str(w, "general.architecture", s->arch ? s->arch : "llama");
    const char *a = s->arch ? s->arch : "llama";
    char key[128];
#define U32(k, v) snprintf(key, sizeof key, "%s." k, a), gguf_writer_set_u32(w, key, (uint32_t)(v))
    U32("embedding_length", E);
    U32("block_count", s->block_count);
    U32("attention.head_count", s->head_count);
    U32("attention.head_count_kv", s->head_count_kv);
    U32("feed_forward_length", FF);
    U32("context_length", 256);
    if (s->key_length) U32("attention.key_length", s->key_length);
    if (s->vocab_size_key) U32("vocab_size", s->vocab_size_key);
#undef U32
    if (s->rope_scaling) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        gguf_writer_set_str(w, key, s->rope_scaling);
    }
    if (s->rope_factor != 0) {
        snprintf(key, sizeof key, "%s.rope.scaling.factor", a);
        gguf_writer_set_f32(w, key, (float)s->rope_factor);
    }
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    gguf_writer_set_f32(w, key, s->rope_base != 0 ? (float)s->rope_base : 10000.0f);
    /* vocabulary */
    int64_t nt = s->n_tokens, ny = s->n_types < 0 ? nt : s->n_types;
    char **toks = calloc((size_t)nt, sizeof *toks);
    int32_t *types = calloc((size_t)(ny > 0 ? ny : 1), sizeof *types);
    for (int64_t i = 0; i < nt; i++) {
        char b[32];
        if (i < 3) snprintf(b, sizeof b, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else if (i < 259) snprintf(b, sizeof b, "<0x%02X>", (unsigned)(i - 3));
        else snprintf(b, sizeof b, "\xe2\x96\x81w%lld", (long long)i);
        toks[i] = strdup(b);
    }
    for (int64_t i = 0; i < ny; i++) types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, NULL, (uint64_t)nt);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, (uint64_t)ny);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)s->eos_id);
    /* tensors */
    int64_t hd = E / H, kvd = HKV * hd;
    typedef struct { const char *name; int64_t ne0, ne1; } tinfo;
    tinfo ts[64];
    int n = 0;
    ts[n++] = (tinfo){"token_embd.weight", E, V};
    ts[n++] = (tinfo){"output_norm.weight", E, 1};
    ts[n++] = (tinfo){"output.weight", E, V};
    static char names[L * 9][64];
    int k = 0;
    for (int l = 0; l < L; l++) {
        const char *suf[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
        int64_t d0[] = {E, E, E, E, E, E, E, E, FF};
        int64_t d1[] = {1, E, kvd, kvd, E, 1, FF, FF, E};
        for (int j = 0; j < 9; j++, k++) {
            snprintf(names[k], sizeof names[k], "blk.%d.%s.weight", l, suf[j]);
            ts[n++] = (tinfo){names[k], d0[j], d1[j]};
        }
    }
    if (s->extra_tensor) ts[n++] = (tinfo){s->extra_tensor, 32, 1};
    float *bufs[64] = {0};
    for (int i = 0; i < n; i++) {
        if (s->skip_tensor && !strcmp(ts[i].name, s->skip_tensor)) continue;
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        if (s->bad_shape && !strcmp(ts[i].name, s->bad_shape)) ne[1] += 1;
        bufs[i] = rand_floats(ne[0] * ne[1], (uint64_t)i + 1);
        if (ne[1] == 1 && strstr(ts[i].name, "norm"))
            for (int64_t q = 0; q < ne[0]; q++) bufs[i][q] = 1.0f;
        if (s->nan_weight && !strcmp(ts[i].name, "blk.0.ffn_up.weight")) bufs[i][5] = NAN;
        if (s->eos_always) {
            /* zero layers leave x = embedding; all-ones embeddings give h = ones after the
             * final norm, so logit(t) = sum of output row t: the EOS row of ones wins */
            bool norm = strstr(ts[i].name, "norm") != NULL;
            if (!strncmp(ts[i].name, "blk.", 4) && !norm) memset(bufs[i], 0, sizeof(float) * (size_t)(ne[0] * ne[1]));
            if (!strcmp(ts[i].name, "token_embd.weight"))
                for (int64_t q = 0; q < ne[0] * ne[1]; q++) bufs[i][q] = 1.0f;
            if (!strcmp(ts[i].name, "output.weight"))
                for (int64_t q = 0; q < E; q++) bufs[i][s->eos_id * E + q] = 1.0f;
        }
        if (gguf_writer_add_tensor(w, ts[i].name, 0 /* F32 */, ne[1] > 1 ? 2 : 1, ne, bufs[i], NULL, NULL, &err) != FR_OK)
            fprintf(stderr, "add_tensor %s: %s\n", ts[i].name, err.msg);
    }
    if (gguf_writer_write(w, path, 32, &err) != FR_OK) fprintf(stderr, "write %s: %s\n", path, err.msg);
    gguf_writer_free(w);
    for (int i = 0; i < n; i++) free(bufs[i]);
    for (int64_t i = 0; i < nt; i++) free(toks[i]);
    free(toks);
    free(types);
    return path;
}

/* Expect load failure whose message contains every needle. */
static void expect_fail(const char *name, const spec *s, const char *needle1, const char *needle2) {
    const char *p = write_model(name, s);
    frugal_model *m = NULL;
    fr_error err = {FR_OK, ""};
    fr_status st = frugal_model_load(p, &m, &err);
    CHECK(st != FR_OK && m == NULL, "%s: loaded, expected an error", name);
    CHECK(strstr(err.msg, name) != NULL, "%s: message does not name the file: %s", name, err.msg);
    if (needle1) CHECK(strstr(err.msg, needle1) != NULL, "%s: message lacks '%s': %s", name, needle1, err.msg);
    if (needle2) CHECK(strstr(err.msg, needle2) != NULL, "%s: message lacks '%s': %s", name, needle2, err.msg);
    if (getenv("TEST_VERBOSE")) printf("  %s: %s\n", name, err.msg);
    frugal_model_free(m);
}

static frugal_model *expect_load(const char *name, const spec *s) {
    const char *p = write_model(name, s);
    frugal_model *m = NULL;
    fr_error err = {FR_OK, ""};
    CHECK(frugal_model_load(p, &m, &err) == FR_OK, "%s: %s", name, err.msg);
    return m;
}

static int g_warnings;
static char g_last_warning[512];
static void on_log(int level, const char *msg, void *user) {
    (void)user;
    if (level == 1) {
        g_warnings++;
        snprintf(g_last_warning, sizeof g_last_warning, "%s", msg);
    }
}

int main(int argc, char **argv) {
    snprintf(g_dir, sizeof g_dir, "/tmp/frugal_model_load_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    /* --write-eos-model DIR: a model whose greedy choice is always EOS (for the CLI test) */
    if (argc == 3 && !strcmp(argv[1], "--write-eos-model")) {
        spec s;
        defaults(&s);
        s.eos_always = true;
        rmdir(g_dir);
        snprintf(g_dir, sizeof g_dir, "%s", argv[2]);
        write_model("eos_always", &s);
        return 0;
    }
    frugal_set_log(on_log, NULL, 1);
    spec s;

    defaults(&s);
    frugal_model *m = expect_load("good", &s);
    if (m) {
        /* item 19/20: token ids out of range and prompts longer than the context */
        frugal_context_params cp = frugal_context_default_params();
        cp.n_ctx = 8;
        cp.n_threads = 1;
        frugal_context *c = NULL;
        fr_error err;
        CHECK(frugal_context_new(m, &cp, &c, &err) == FR_OK, "context: %s", err.msg);
        float *logits = malloc(sizeof(float) * V);
        int32_t bad[] = {1, V};
        CHECK(frugal_eval(c, bad, 2, logits, 1, &err) == FR_ERR_RANGE && strstr(err.msg, "300"), "id == n_vocab: %s", err.msg);
        int32_t neg[] = {-1};
        CHECK(frugal_eval(c, neg, 1, logits, 0, &err) == FR_ERR_RANGE, "negative id accepted");
        int32_t many[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        CHECK(frugal_eval(c, many, 9, logits, 8, &err) == FR_ERR_RANGE && strstr(err.msg, "context"), "9 tokens in a context of 8: %s", err.msg);
        CHECK(frugal_context_n_past(c) == 0, "a rejected batch must not advance the context");
        CHECK(frugal_eval(c, many, 8, logits, 7, &err) == FR_OK, "8 tokens in a context of 8: %s", err.msg);
        CHECK(frugal_eval(c, many, 1, logits, 0, &err) == FR_ERR_RANGE, "context full must be an error");
        free(logits);
        frugal_context_free(c);
        frugal_model_free(m);
    }

    /* item 12: required tensors missing, shapes contradicting hyperparameters */
    defaults(&s);
    s.skip_tensor = "blk.1.ffn_up.weight";
    expect_fail("missing_tensor", &s, "blk.1.ffn_up.weight", "missing");
    defaults(&s);
    s.skip_tensor = "token_embd.weight";
    expect_fail("missing_embd", &s, "token_embd.weight", "missing");
    defaults(&s);
    s.bad_shape = "blk.0.attn_k.weight";
    expect_fail("bad_shape", &s, "blk.0.attn_k.weight", "expected [64, 32]");
    /* extra tensors: a warning, not fatal */
    defaults(&s);
    s.extra_tensor = "blk.0.nextn.unused.weight";
    g_warnings = 0;
    m = expect_load("extra_tensor", &s);
    CHECK(g_warnings > 0 && strstr(g_last_warning, "nextn"), "no warning naming the unused tensor: %s", g_last_warning);
    frugal_model_free(m);

    /* item 13: hyperparameters out of range or contradicting shapes */
    defaults(&s);
    s.block_count = 0;
    expect_fail("zero_layers", &s, "block_count", "0");
    defaults(&s);
    s.block_count = 100000;
    expect_fail("huge_layers", &s, "block_count", "100000");
    defaults(&s);
    s.head_count = 0;
    expect_fail("zero_heads", &s, "head_count", "0");
    defaults(&s);
    s.head_count_kv = 3;
    expect_fail("kv_heads_not_dividing", &s, "head_count_kv", "3");
    defaults(&s);
    s.key_length = 32; /* tensors are built for head dim 16 */
    expect_fail("head_dim_contradicts", &s, "blk.0.attn_q.weight", "contradicts");
    double bad_bases[] = {NAN, INFINITY, -1.0, 1e-30};
    for (int i = 0; i < 4; i++) {
        defaults(&s);
        s.rope_base = bad_bases[i];
        char nm[32];
        snprintf(nm, sizeof nm, "rope_base_%d", i);
        expect_fail(nm, &s, "rope.freq_base", NULL);
    }
    defaults(&s);
    s.arch = "mamba9";
    expect_fail("unknown_arch", &s, "mamba9", "llama");
    defaults(&s);
    s.no_arch = true;
    expect_fail("no_arch", &s, "general.architecture", "missing");

    /* rope scaling: linear divides positions by the factor; unknown types are refused */
    defaults(&s);
    s.rope_scaling = "linear";
    s.rope_factor = 4.0;
    {
        const char *p = write_model("rope_linear", &s);
        fr_model *fm = NULL;
        fr_error err;
        CHECK(fr_model_load(p, &fm, &err) == FR_OK && fm->hp.rope_freq_scale == 0.25f, "linear x4: %s",
              fm ? "wrong scale" : err.msg);
        fr_model_free(fm);
        /* and it changes the logits (positions 1 and 2 rotate differently) */
        float *la = malloc(sizeof(float) * V), *lb = malloc(sizeof(float) * V);
        int32_t ids[] = {1, 7, 9};
        for (int k = 0; k < 2; k++) {
            frugal_model *mm = NULL;
            frugal_context *cc = NULL;
            frugal_context_params cp = frugal_context_default_params();
            cp.n_threads = 1;
            cp.n_ctx = 8;
            const char *path = k == 0 ? p : write_model("rope_none", (defaults(&s), &s));
            if (frugal_model_load(path, &mm, &err) == FR_OK && frugal_context_new(mm, &cp, &cc, &err) == FR_OK)
                frugal_eval(cc, ids, 3, k == 0 ? la : lb, 2, &err);
            frugal_context_free(cc);
            frugal_model_free(mm);
        }
        CHECK(memcmp(la, lb, sizeof(float) * V) != 0, "linear rope scaling did not change the logits");
        free(la);
        free(lb);
    }
    defaults(&s);
    s.rope_scaling = "yarn";
    s.rope_factor = 4.0;
    expect_fail("rope_yarn_on_llama", &s, "rope.scaling.type", "supported: none, linear");
    defaults(&s);
    s.rope_scaling = "linear";
    s.rope_factor = NAN;
    expect_fail("rope_factor_nan", &s, "rope.scaling.factor", NULL);

    /* item 14: vocabulary problems */
    defaults(&s);
    s.vocab_size_key = V + 1;
    expect_fail("vocab_size_key", &s, "vocab_size", "301");
    defaults(&s);
    s.n_tokens = V - 1;
    expect_fail("token_count", &s, "tokenizer.ggml.tokens", "299");
    defaults(&s);
    s.n_types = V - 5;
    expect_fail("token_type_count", &s, "token_type", "295");

    /* item 6: special ids >= n_vocab are dropped with a warning and never used */
    defaults(&s);
    s.eos_id = V + 7;
    g_warnings = 0;
    m = expect_load("eos_out_of_range", &s);
    if (m) {
        frugal_model_info in;
        frugal_model_get_info(m, &in);
        CHECK(in.eos == -1 && g_warnings > 0, "eos %d should be dropped with a warning", in.eos);
        CHECK(!frugal_model_is_eog(m, V + 7), "dropped id must not be an end token");
        frugal_model_free(m);
    }

    /* item 15: NaN weights load; --check finds them; the forward pass does not crash */
    defaults(&s);
    s.nan_weight = true;
    m = expect_load("nan_weight", &s);
    if (m) {
        fr_error err;
        CHECK(frugal_model_check_weights(m, &err) == 1 && strstr(err.msg, "blk.0.ffn_up.weight"), "check: %s", err.msg);
        frugal_context *c = NULL;
        frugal_context_params cp = frugal_context_default_params();
        cp.n_threads = 2;
        cp.n_ctx = 16;
        CHECK(frugal_context_new(m, &cp, &c, &err) == FR_OK, "context: %s", err.msg);
        float *logits = malloc(sizeof(float) * V);
        int32_t ids[] = {1, 5, 9};
        CHECK(frugal_eval(c, ids, 3, logits, 2, &err) == FR_OK, "eval: %s", err.msg);
        frugal_sampler *smp = NULL;
        frugal_sampler_params sp = frugal_sampler_default_params();
        CHECK(frugal_sampler_new(&sp, V, &smp, &err) == FR_OK, "sampler: %s", err.msg);
        int32_t t = frugal_sampler_sample(smp, logits, &err);
        CHECK(t == -1 || (t >= 0 && t < V), "sampling NaN logits must fail cleanly or pick a valid id: %d", t);
        frugal_sampler_free(smp);
        free(logits);
        frugal_context_free(c);
        frugal_model_free(m);
    }
    defaults(&s);
    m = expect_load("clean_check", &s);
    if (m) {
        fr_error err;
        CHECK(frugal_model_check_weights(m, &err) == 0, "clean model flagged");
        frugal_model_free(m);
    }

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
    return CHECK_DONE("test_model_load");
}
