# lib.sh: helpers the bench scripts share (sourced: . "$(dirname "$0")/lib.sh").

# median [FORMAT]: the median of the numbers on stdin (separated by spaces or newlines); the
# mean of the middle two, printed with FORMAT (default %.6f), for an even count; nothing for none.
median() {
    tr ' ' '\n' | grep . | sort -g | awk -v fmt="${1:-%.6f}" '{ v[NR] = $1 }
        END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf fmt "\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
