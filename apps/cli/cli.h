/* cli.h: shared helpers of the frugal command line. The CLI uses only frugal.h. */
#ifndef FRUGAL_CLI_H
#define FRUGAL_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "frugal.h"

/* Exit codes: 0 success, 1 runtime error (bad file, bad input), 2 usage error. */
enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

int cmd_run(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* apps/serve */

/* Argument parsing: each returns false (after printing "frugal CMD: ...") on a bad value. */
bool cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);
bool cli_u64(const char *cmd, const char *flag, const char *s, uint64_t *out);
/* "1,2,3" -> malloc'd ids; false on a bad list. */
bool cli_ids(const char *cmd, const char *flag, const char *s, int32_t **ids, int64_t *n);
/* Fetch the value of a flag at argv[*i] (advances *i); NULL and a message if missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
/* "f16" | "f32" | "q8_0" -> type; -1 on a bad name (message printed). */
int cli_kv_type(const char *cmd, const char *s);
double cli_now(void); /* monotonic seconds */
/* A sampling flag at argv[*i] (--temp, --top-k, ..., -s): 1 parsed (advances *i), 0 not a
 * sampling flag, -1 a bad value (message printed). */
int cli_sampling_flag(const char *cmd, int argc, char **argv, int *i, frugal_sampler_params *sp);
void cli_error(const char *cmd, const fr_error *err);
/* A valid UTF-8 copy of s[0..n): each invalid byte (and NUL) becomes U+FFFD. malloc'd. */
char *cli_utf8_sanitize(const char *s, size_t n);
/* All of a stream / a file, NUL-terminated (*n bytes, not counting the NUL), malloc'd; NULL
 * on a read error, out of memory, or (file) when it cannot be opened. */
char *cli_read_stream(FILE *f, size_t *n);
char *cli_read_file(const char *path, size_t *n);

#endif
