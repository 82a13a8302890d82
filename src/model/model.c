/* model.c: load a model: open the file, read hyperparameters, bind weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

fr_status fr_model_load(const char *path, fr_model **out, fr_error *err) { return fr_model_open(path, true, out, err); }

fr_status fr_model_open(const char *path, bool repack, fr_model **out, fr_error *err) {
    *out = NULL;
    fr_model *m = calloc(1, sizeof *m);
    if (!m) return fr_fail(err, FR_ERR_NOMEM, "%s: out of memory", path);
    m->path = strdup(path);
    fr_status st = m->path ? gguf_open(path, &m->file, err) : fr_fail(err, FR_ERR_NOMEM, "out of memory");
    if (st == FR_OK) {
        st = fr_hparams_load(m->file, &m->hp, err);
        if (st == FR_OK) st = fr_weights_bind(m->file, &m->hp, &m->w, repack, err);
        if (st != FR_OK) fr_error_prefix(err, "%s: ", path);
    }
    if (st != FR_OK) {
        fr_model_free(m);
        return st;
    }
    fr_special_load(m->file, m->hp.n_vocab, &m->special);
    /* active per token: all weights but the routed experts a token does not use and MTP blocks */
    const fr_hparams *hp = &m->hp;
    for (int64_t i = 0; i < gguf_n_tensors(m->file); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->file, i);
        m->n_params += t->n_elements;
        int blk = -1;
        if (hp->n_nextn > 0 && sscanf(t->name, "blk.%d.", &blk) == 1 && blk >= hp->n_layer) continue;
        const bool layer_matrix = !strncmp(t->name, "blk.", 4) && t->n_dims >= 2;
        if (hp->n_expert > 0 && strstr(t->name, "_exps.") != NULL && t->n_dims == 3 && t->ne[2] == hp->n_expert) {
            m->n_params_active += t->n_elements / hp->n_expert * hp->n_expert_used;
            m->n_params_layer_matrices += t->n_elements / hp->n_expert * hp->n_expert_used;
            m->active_bytes += t->nbytes / (uint64_t)hp->n_expert * (uint64_t)hp->n_expert_used;
        } else {
            m->n_params_active += t->n_elements;
            if (layer_matrix) m->n_params_layer_matrices += t->n_elements;
            /* a token reads one row of the embedding table, all of it where it is the output */
            bool row_only = !strcmp(t->name, "token_embd.weight") && t->n_dims == 2 && t->ne[1] > 0 &&
                            gguf_find_tensor(m->file, "output.weight") != NULL;
            m->active_bytes += row_only ? t->nbytes / (uint64_t)t->ne[1] : t->nbytes;
        }
    }
    *out = m;
    return FR_OK;
}

void fr_model_free(fr_model *m) {
    if (!m) return;
    fr_weights_free(&m->w, m->hp.n_layer);
    gguf_close(m->file);
    free(m->path);
    free(m);
}
