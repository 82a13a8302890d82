# lib.sh: helpers the bench scripts share (sourced: . "$(dirname "$0")/lib.sh").

# median [FORMAT]: the median of the numbers on stdin (separated by spaces or newlines); the
# mean of the middle two, printed with FORMAT (default %.6f), for an even count; nothing for none.
median() {
    tr ' ' '\n' | grep . | sort -g | awk -v fmt="${1:-%.6f}" '{ v[NR] = $1 }
        END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf fmt "\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# json_num FIELD: the number of "FIELD" in the JSON on stdin (frugal's --json line, frugal info
# --json or llama-bench -o json with the newlines removed), the first where it appears twice;
# nothing if it is absent.
json_num() { sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p" | head -n 1; }

# ratio A B: A / B with two decimals, or ? when B is missing or not positive.
ratio() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }
