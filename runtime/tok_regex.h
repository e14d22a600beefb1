/*
 * tok_regex.h - a tokenizer Split regex made to see Unicode as HF tokenizers
 * does (formats.md RT-R15): PCRE2 10.42 carries Unicode 14.0 tables, HF
 * tokenizers' Oniguruma Unicode 16.0, whose letters, marks, numbers,
 * punctuation and symbols include 10,294 code points PCRE2 sees as
 * unassigned (new emoji such as U+1FA75, CJK extensions H and I, ...).
 */
#ifndef DSCK_TOK_REGEX_H
#define DSCK_TOK_REGEX_H

#include <stddef.h>

/*
 * pattern [n bytes] with each \p{X} or \pX, X one of L M N P S, widened by
 * the code points Unicode 16.0 added to class X since 14.0: inside a
 * character class the ranges join that class; outside one the escape
 * becomes a class of its own; \P{X} outside a class becomes the negated
 * class. \P{X} inside a class, other properties and \Q..\E text are left
 * as they are. Returns a new NUL-terminated pattern of *out_len bytes that
 * the caller frees, or NULL when out of memory.
 */
char *dsck_tok_regex_widen(const char *pattern, size_t n, size_t *out_len);

#endif
