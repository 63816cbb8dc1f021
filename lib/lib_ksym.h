/* lib_ksym.h: what the two readers of a Linux kernel's symbol table
 * (System.map or /proc/kallsyms) share: the limits, the checks of the
 * whole file, and the kernel text's bounds (_text, _etext) as the lines
 * give them. The line grammars stay with their readers: keys_sysmap.c
 * takes exactly what `hvpatch build` needs, lab_symbols.c what a live
 * guest's files may hold (/proc/iomem lines too). */
#ifndef LIB_KSYM_H
#define LIB_KSYM_H

#include <stddef.h>
#include <stdint.h>

#define LIB_KSYM_MAX_SIZE (64u << 20) /* a symbol table file, bytes */
#define LIB_KSYM_MAX_LINES (4u << 20) /* lines of one file */
#define LIB_KSYM_NAME_MAX 511u        /* KSYM_NAME_LEN - 1 */

/* A diagnostic: what is wrong with the file (no "line N: " prefix for the
 * checks of the whole file). */
struct lib_ksym_why {
    char text[160];
};

/* The file as a whole: at most LIB_KSYM_MAX_SIZE bytes, not empty, no NUL
 * byte, at most LIB_KSYM_MAX_LINES lines (a last line without newline
 * counts). Returns 0 and the line count in *n_lines, or -1 and why. */
int lib_ksym_check_file(const char *buf, size_t len, size_t *n_lines,
                        struct lib_ksym_why *why);

/* 1 for nm's code types (t, T, w, W), else 0. */
int lib_ksym_is_text(char type);

/* _text and _etext, and whether any address was not 0, over the lines. */
struct lib_ksym_text {
    uint64_t text, etext;
    int have_text, have_etext, any_addr;
};

/* Notes one line's symbol (name is name_len bytes, no NUL needed); a
 * module's symbol (module != 0) counts only for any_addr. Returns NULL,
 * or why the line is wrong ("_text defined twice"). */
const char *lib_ksym_note(struct lib_ksym_text *t, uint64_t addr,
                          const char *name, size_t name_len, int module);

/* After the last line: addresses were shown (a /proc/kallsyms read
 * without root has all zeros) and both _text and _etext were seen.
 * Returns 0, or -1 and why. */
int lib_ksym_text_check(const struct lib_ksym_text *t,
                        struct lib_ksym_why *why);

#endif
