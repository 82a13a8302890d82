/* weights.c: tensor table -> typed weight views, with shape checks (CHECKLIST item 12). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "kernels/gemm.h"
#include "model.h"

static int64_t dim_value(const fr_hparams *hp, fr_dim d) {
    switch (d) {
    case D_NONE: return 1;
    case D_EMBD: return hp->n_embd;
    case D_VOCAB: return hp->n_vocab;
    case D_FF: return hp->n_ff;
    case D_Q: return hp->n_head * hp->head_dim_k;
    case D_K: return hp->n_head_kv * hp->head_dim_k;
    case D_V: return hp->n_head_kv * hp->head_dim_v;
    case D_O: return hp->n_head * hp->head_dim_v;
    case D_ROT_HALF: return hp->n_rot / 2;
    case D_LORA_Q: return hp->n_lora_q;
    case D_LORA_KV: return hp->n_lora_kv;
    case D_KV_A: return hp->n_lora_kv + hp->n_rot;
    case D_KV_B: return hp->n_head * (hp->qk_nope + hp->head_dim_v);
    case D_NOPE: return hp->qk_nope;
    case D_VHEAD: return hp->head_dim_v;
    case D_HEAD: return hp->n_head;
    case D_EXPERT: return hp->n_expert;
    case D_FF_EXP: return hp->n_ff_exp;
    case D_FF_SHEXP: return hp->n_ff_exp * hp->n_expert_shared;
    }
    return -1;
}

static bool cond_holds(const fr_hparams *hp, fr_cond c, int64_t layer) {
    bool moe = hp->n_expert > 0 && layer >= hp->n_layer_dense_lead;
    switch (c) {
    case C_ALWAYS: return true;
    case C_QLORA: return hp->n_lora_q > 0;
    case C_NO_QLORA: return hp->n_lora_q == 0;
    case C_DENSE_FFN: return !moe;
    case C_MOE: return moe;
    case C_SHEXP: return moe && hp->n_expert_shared > 0;
    }
    return false;
}

/* Float copy of a small 1-D tensor (norm weight, bias). */
static fr_status to_float_copy(const fr_tensor *t, float **out, fr_error *err) {
    *out = NULL;
    if (!t->src) return FR_OK;
    const fr_type_traits *tt = fr_type_traits_get(t->m.type);
    if (!tt || !tt->to_float)
        return fr_fail(err, FR_ERR_UNSUPPORTED, "tensor '%s': type %s cannot be converted to float",
                       t->src->name, fr_type_name(t->m.type));
    float *f = malloc((size_t)t->src->n_elements * sizeof(float));
    if (!f) return fr_fail(err, FR_ERR_NOMEM, "tensor '%s': out of memory", t->src->name);
    tt->to_float(t->src->data, f, t->src->n_elements);
    *out = f;
    return FR_OK;
}

static fr_status bind_one(const gguf_file *f, const fr_hparams *hp, const fr_tensor_spec *sp,
                          const char *name, fr_tensor *dst, char *used, fr_error *err) {
    memset(dst, 0, sizeof *dst);
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        if (sp->need == T_OPTIONAL) return FR_OK;
        return fr_fail(err, FR_ERR_FORMAT, "tensor '%s': missing (required by architecture %s)", name,
                       fr_arch_name(hp->arch));
    }
    int64_t want0 = dim_value(hp, sp->shape[0]), want1 = dim_value(hp, sp->shape[1]);
    int64_t rest = 1;
    for (int d = 1; d < t->n_dims; d++) rest *= t->ne[d]; /* the reader bounds the product */
    if (sp->shape[2] != D_NONE) {
        int64_t want2 = dim_value(hp, sp->shape[2]);
        if (t->n_dims != 3 || t->ne[0] != want0 || t->ne[1] != want1 || t->ne[2] != want2)
            return fr_fail(err, FR_ERR_FORMAT,
                           "tensor '%s': shape [%lld, %lld, %lld] (%d dims) contradicts the hyperparameters "
                           "(expected [%lld, %lld, %lld])",
                           name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], t->n_dims,
                           (long long)want0, (long long)want1, (long long)want2);
    } else if (t->ne[0] != want0 || rest != want1 || t->n_dims > 2)
        return fr_fail(err, FR_ERR_FORMAT,
                       "tensor '%s': shape [%lld, %lld] contradicts the hyperparameters (expected [%lld, %lld])",
                       name, (long long)t->ne[0], (long long)rest, (long long)want0, (long long)want1);
    const fr_type_traits *tt = fr_type_traits_get(t->type);
    if (!tt || !tt->vec_dot || !tt->to_float)
        return fr_fail(err, FR_ERR_UNSUPPORTED, "tensor '%s': type %s is not supported for weights", name,
                       fr_type_name(t->type));
    dst->src = t;
    dst->m.type = t->type;
    dst->m.n_in = t->ne[0];
    dst->m.n_out = rest;
    fr_row_size(t->type, t->ne[0], &dst->m.row_bytes);
    dst->m.data = t->data;
    int64_t idx = t - gguf_tensor_at(f, 0);
    if (idx >= 0 && idx < gguf_n_tensors(f)) used[idx] = 1;
    return FR_OK;
}

typedef struct {
    fr_matrix **todo;
    fr_packed **made; /* [i]: todo[i]'s packed copy or copy of rows, or NULL */
    int64_t n;
    atomic_llong next;
} repack_work;

static void *repack_worker(void *arg) {
    repack_work *rw = arg;
    for (int64_t i; (i = atomic_fetch_add(&rw->next, 1)) < rw->n;) {
        fr_matrix *m = rw->todo[i];
        fr_packed *pk = fr_pack_new(m);
        if (pk) {
            m->packed = pk;
            m->unit0 = 0;
        } else if ((pk = fr_pack_copy(m))) {
            m->data = pk->data; /* the same rows, in huge pages */
        }
        rw->made[i] = pk;
    }
    return NULL;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { REPACK_MAX_THREADS = 8 };

/* Repack the matrices the GEMM kernels read faster in 16-row units (src/kernels/gemm.h), and
 * copy the others' rows into huge pages (fr_pack_copy); tok_embd only when it is also the
 * output matrix. With plan_only, count them instead.
 * The matrices are packed by up to one thread per CPU (at most 8): most of the time goes to
 * the first touch of the new pages, in the kernel. DeepSeek-V2-Lite Q4_0 (8.2 GB packed),
 * file in the page cache, 2 CPUs, `bench/packtime`, alternated runs: one thread 5.2 and 5.6 s,
 * two threads 1.53 s. When the VM must first back the memory (the first load after other
 * work), it is slower either way: 22.5 s with one thread, about 11 s with two. Which thread
 * packs a matrix changes nothing in its bytes. */
static void repack(const fr_arch_info *ai, const fr_hparams *hp, fr_weights *w, bool plan_only) {
    repack_work rw = {NULL, NULL, 0, 0};
    double t0 = wall_s();
    size_t cap = ai->n_tensors * (size_t)(hp->n_layer > 0 ? hp->n_layer : 1);
    if (!plan_only) {
        rw.todo = malloc(sizeof(fr_matrix *) * cap);
        rw.made = malloc(sizeof(fr_packed *) * cap);
        w->packed = malloc(sizeof(fr_packed *) * cap); /* the weights own the copies */
        if (!rw.todo || !rw.made || !w->packed) {
            free(rw.todo);
            free(rw.made);
            free(w->packed);
            w->packed = NULL;
            fr_log(FR_LOG_WARN, "weights: out of memory for the repacking lists; the matrices stay in the file's layout");
            return;
        }
    }
    for (size_t i = 0; i < ai->n_tensors; i++) {
        const fr_tensor_spec *sp = &ai->tensors[i];
        for (int64_t l = 0; l < (sp->per_layer ? hp->n_layer : 1); l++) {
            fr_tensor *t = (fr_tensor *)((char *)(sp->per_layer ? (void *)&w->layers[l] : (void *)w) + sp->offset);
            if (!t->src || t->src->n_dims < 2 || (t == &w->tok_embd && w->output.src)) continue;
            size_t bytes;
            if (!plan_only) {
                rw.todo[rw.n++] = &t->m;
            } else if (fr_pack_would_pack(&t->m, &bytes) || fr_pack_would_copy(&t->m, &bytes)) {
                w->plan_repack_n++;
                w->plan_repack_bytes += bytes;
            }
        }
    }
    if (plan_only) return;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = (int)(cpus < 1 ? 1 : cpus > REPACK_MAX_THREADS ? REPACK_MAX_THREADS : cpus), started = 0;
    pthread_t th[REPACK_MAX_THREADS];
    for (int k = 1; k < n_threads && rw.n > 1; k++)
        if (pthread_create(&th[started], NULL, repack_worker, &rw) == 0) started++;
    repack_worker(&rw);
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    int64_t n_rows_copies = 0;
    for (int64_t i = 0; i < rw.n; i++) {
        fr_packed *pk = rw.made[i]; /* made by repack_worker, owned from here */
        if (!pk) continue;
        w->packed[w->n_packed++] = pk;
        w->packed_bytes += pk->data_bytes;
        n_rows_copies += pk->rows;
    }
    free(rw.todo);
    free(rw.made);
    w->repack_seconds = wall_s() - t0;
    if (w->n_packed)
        fr_log(FR_LOG_INFO, "weights: %lld matrices repacked into 16-row units, %lld copied into huge pages "
                            "(%.1f MiB) in %.3f s",
               (long long)(w->n_packed - n_rows_copies), (long long)n_rows_copies,
               (double)w->packed_bytes / (1 << 20), w->repack_seconds);
}

fr_status fr_weights_bind(const gguf_file *f, const fr_hparams *hp, fr_weights *w, bool repack_now, fr_error *err) {
    memset(w, 0, sizeof *w);
    const fr_arch_info *ai = fr_arch_get(hp->arch);
    int64_t nt = gguf_n_tensors(f);
    char *used = calloc((size_t)(nt > 0 ? nt : 1), 1);
    w->layers = calloc((size_t)hp->n_layer, sizeof *w->layers);
    if (!used || !w->layers) {
        free(used);
        return fr_fail(err, FR_ERR_NOMEM, "weights: out of memory");
    }
    fr_status st = FR_OK;
    char name[GGUF_MAX_NAME + 1];
    for (size_t i = 0; i < ai->n_tensors && st == FR_OK; i++) {
        const fr_tensor_spec *sp = &ai->tensors[i];
        if (!sp->per_layer) {
            st = bind_one(f, hp, sp, sp->name, (fr_tensor *)((char *)w + sp->offset), used, err);
            continue;
        }
        for (int64_t l = 0; l < hp->n_layer && st == FR_OK; l++) {
            if (!cond_holds(hp, sp->cond, l)) continue;
            snprintf(name, sizeof name, sp->name, (int)l);
            st = bind_one(f, hp, sp, name, (fr_tensor *)((char *)&w->layers[l] + sp->offset), used, err);
        }
    }
    if (st == FR_OK) {
        st = to_float_copy(&w->output_norm, &w->output_norm_f, err);
        if (st == FR_OK) st = to_float_copy(&w->rope_freqs, &w->rope_freqs_f, err);
        for (int64_t l = 0; l < hp->n_layer && st == FR_OK; l++) {
            fr_layer *L = &w->layers[l];
            st = to_float_copy(&L->attn_norm, &L->attn_norm_f, err);
            if (st == FR_OK) st = to_float_copy(&L->ffn_norm, &L->ffn_norm_f, err);
            if (st == FR_OK) st = to_float_copy(&L->bq, &L->bq_f, err);
            if (st == FR_OK) st = to_float_copy(&L->bk, &L->bk_f, err);
            if (st == FR_OK) st = to_float_copy(&L->bv, &L->bv_f, err);
            if (st == FR_OK) st = to_float_copy(&L->q_a_norm, &L->q_a_norm_f, err);
            if (st == FR_OK) st = to_float_copy(&L->kv_a_norm, &L->kv_a_norm_f, err);
            if (st == FR_OK) st = to_float_copy(&L->exp_probs_b, &L->exp_probs_b_f, err);
        }
    }
    if (st == FR_OK && w->rope_freqs_f) {
        for (int64_t i = 0; i < hp->n_rot / 2; i++) {
            float v = w->rope_freqs_f[i];
            if (!(v > 0.0f) || v != v || v > 1e30f) {
                st = fr_fail(err, FR_ERR_FORMAT, "tensor 'rope_freqs.weight': element %lld is %g (expected a finite value > 0)",
                             (long long)i, (double)v);
                break;
            }
        }
    }
    if (st == FR_OK) {
        /* MTP (nextn) blocks come after the trunk: blk.{n_layer}.. */
        int64_t unused = 0, mtp = 0;
        const char *first = NULL;
        for (int64_t i = 0; i < nt; i++) {
            if (used[i]) continue;
            const char *tn = gguf_tensor_at(f, i)->name;
            int blk = -1;
            if (hp->n_nextn > 0 && sscanf(tn, "blk.%d.", &blk) == 1 && blk >= hp->n_layer &&
                blk < hp->n_layer + hp->n_nextn) {
                mtp++;
                continue;
            }
            if (!first) first = tn;
            unused++;
        }
        if (mtp)
            fr_log(FR_LOG_WARN, "%s: %lld tensor(s) of %lld MTP (nextn) block(s) loaded but not used "
                   "(multi-token prediction is not implemented)", gguf_path(f), (long long)mtp, (long long)hp->n_nextn);
        if (unused)
            fr_log(FR_LOG_WARN, "%s: %lld tensor(s) not used by architecture %s (first: '%s')", gguf_path(f),
                   (long long)unused, ai->name, first);
    }
    free(used);
    if (st == FR_OK) repack(ai, hp, w, !repack_now);
    /* after repacking: MLA's per-head views copy their matrices, packed copies included */
    for (int64_t l = 0; l < hp->n_layer && st == FR_OK && hp->arch == FR_ARCH_DEEPSEEK2; l++)
        st = fr_mla_bind(hp, &w->layers[l], l, err);
    if (st != FR_OK) fr_weights_free(w, hp->n_layer);
    return st;
}

void fr_weights_free(fr_weights *w, int64_t n_layer) {
    for (int64_t i = 0; i < w->n_packed; i++) fr_pack_free(w->packed[i]);
    free(w->packed);
    if (w->layers) {
        for (int64_t l = 0; l < n_layer; l++) {
            fr_layer *L = &w->layers[l];
            free(L->attn_norm_f);
            free(L->ffn_norm_f);
            free(L->bq_f);
            free(L->bk_f);
            free(L->bv_f);
            free(L->q_a_norm_f);
            free(L->kv_a_norm_f);
            free(L->exp_probs_b_f);
            free(L->mla_owned);
        }
    }
    free(w->layers);
    free(w->output_norm_f);
    free(w->rope_freqs_f);
    memset(w, 0, sizeof *w);
}
