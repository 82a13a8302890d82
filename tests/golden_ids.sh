#!/bin/sh
# golden_ids.sh FILE: print the greedy ids of a golden file as a comma-separated list.
# Layout: int32 n_prompt, n_vocab, n_rows; f32 [n_rows][n_vocab]; int32 n_gen; int32 greedy[n_gen].
od -An -v -t d4 "$1" | tr -s ' \n' '\n\n' | awk 'NF { w[n++] = $1 }
END { nv = w[1]; nr = w[2]; off = 3 + nr * nv; ng = w[off]; s = "";
      for (i = 0; i < ng; i++) s = s (i ? "," : "") w[off + 1 + i]; print s }'
