#!/bin/sh
# run.sh: coverage-guided fuzzing of the untrusted-input parsers with libFuzzer, under
# AddressSanitizer + UBSan: model files (fuzz_model: GGUF reader, model loader, tokenizer
# from the file, a short evaluation), chat templates (fuzz_template), Hugging Face
# tokenizer.json files (fuzz_tokenizer) and OpenAI request bodies (fuzz_request: the
# server's parser and validation, with the messages rendered and tokenized). Not part of
# `make test` (it is open-ended and needs clang); run it with `make fuzz` after changing a
# parser.
#
# usage: sh tests/fuzz/run.sh [SECONDS]   (per target, default 60; FUZZ_TARGETS picks some)
# Needs clang with libFuzzer (Debian: clang). Corpora grow in build/fuzz/corpus-<target>;
# a crashing input lands in build/fuzz/crashes/ and makes this exit 1.
set -eu
SECS=${1:-60}
TARGETS=${FUZZ_TARGETS:-model template tokenizer request}
B=build/fuzz
command -v clang >/dev/null 2>&1 || { echo "fuzz: clang not found (Debian: apt-get install clang)"; exit 2; }
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g"
# The SIMD kernels under ASan without UBSan: with UBSan clang 14 spent over 13 minutes on
# each of the larger unrolled files (gemm_avx512vnni.c, wrow_avx2.c; ASan alone 60 s and 7 s).
# The gcc ASan + UBSan build of `make test` checks them with UBSan.
make --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" CC=clang BUILD=$B SAN="$SAN" \
    SAN_SIMD="-fno-sanitize=undefined" $B/libfrugal.a >/dev/null
LIBS="$B/libfrugal.a $(make --no-print-directory -s print-ldlibs)"
mkdir -p $B/crashes
for t in $TARGETS; do
    extra=""
    if [ "$t" = request ]; then extra="-Iapps/serve apps/serve/oai.c apps/serve/engine.c apps/serve/json_guard.c apps/serve/json_schema.c"; fi
    # shellcheck disable=SC2086
    clang -g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Iinclude -Isrc -Isrc/core tests/fuzz/fuzz_$t.c $extra $LIBS -o $B/fuzz_$t
    corpus=$B/corpus-$t
    mkdir -p "$corpus"
    case $t in
    model)
        clang -g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined -Iinclude -Isrc -Isrc/core \
            tests/fuzz/seeds.c $LIBS -o $B/fuzz_seeds
        $B/fuzz_seeds "$corpus" ;;
    template)
        cp tests/data/templates/*.jinja "$corpus"/
        if [ -d ../shared/templates ]; then cp ../shared/templates/*.jinja "$corpus"/; fi ;;
    tokenizer)
        cp tests/fuzz/seeds/tokenizer-*.json "$corpus"/ ;;
    request)
        cp tests/fuzz/seeds/request-*.json "$corpus"/ ;;
    esac
    dict=""
    if [ -f tests/fuzz/$t.dict ]; then dict="-dict=tests/fuzz/$t.dict"; fi
    echo "fuzz_$t: $SECS s"
    # shellcheck disable=SC2086
    if ! $B/fuzz_$t "$corpus" $dict -max_total_time="$SECS" -max_len=100000 -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix=$B/crashes/$t- -print_final_stats=1 >$B/fuzz_$t.log 2>&1; then
        echo "FAIL fuzz_$t: see $B/fuzz_$t.log and $B/crashes/"
        tail -n 40 $B/fuzz_$t.log | grep -E 'ERROR|runtime error|SUMMARY|#[0-9]' | tail -n 5
        exit 1
    fi
    grep -E '^#[0-9]+' $B/fuzz_$t.log | tail -n 1
done
echo "fuzz: no crash"
