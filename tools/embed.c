/* embed.c: a build tool: writes a C file defining `const unsigned char NAME[]` (the bytes of
 * a file, NUL-terminated) and `const size_t NAME_len`. Usage: embed NAME INPUT OUTPUT */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: embed NAME INPUT OUTPUT\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "rb");
    if (!in) {
        fprintf(stderr, "embed: cannot open %s\n", argv[2]);
        return 1;
    }
    FILE *out = fopen(argv[3], "w");
    if (!out) {
        fprintf(stderr, "embed: cannot write %s\n", argv[3]);
        fclose(in);
        return 1;
    }
    fprintf(out, "/* generated from %s by tools/embed.c */\n#include <stddef.h>\nconst unsigned char %s[] = {", argv[2], argv[1]);
    size_t n = 0;
    int c;
    while ((c = fgetc(in)) != EOF) fprintf(out, "%s%u,", n++ % 20 ? "" : "\n", (unsigned)c);
    fprintf(out, "0};\nconst size_t %s_len = %zu;\n", argv[1], n);
    int bad = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0) bad = 1;
    return bad;
}
