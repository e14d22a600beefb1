/*
 * test_jsonw.c - the JSON text writer (lib/jsonw.c): the bytes of every
 * escaping policy (Python ensure_ascii for IX-W1, serde_json for ST-W1,
 * the synthetic-file and manifest forms), numbers as Python prints them,
 * the latched failure and the size limit.
 */
#include "../test.h"
#include "jsonw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* s as a JSON string under esc; returns a static copy of the text. */
static const char *str_as(const char *s, enum dsck_jsonw_esc esc, int *rc)
{
	static char out[256];
	struct dsck_jsonw w = DSCK_JSONW_INIT;
	*rc = dsck_jsonw_str(&w, s, esc);
	snprintf(out, sizeof out, "%s", w.p ? w.p : "");
	dsck_jsonw_release(&w);
	return out;
}

static void test_policies(void)
{
	/* every byte class: short escapes, other controls, DEL, UTF-8 (2-,
	 * 3- and 4-byte), quote and backslash */
	const char *in = "q\"b\\ \b\f\n\r\t\x01\x1f\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	int rc;
	const char *got = str_as(in, DSCK_JSONW_ASCII, &rc);
	CHECK(rc == 0 && strcmp(got, "\"q\\\"b\\\\ \\b\\f\\n\\r\\t\\u0001\\u001f\\u007f "
				   "\\u00e9\\u20ac\\ud83d\\ude00\"") == 0,
	      "ASCII: json.dumps(ensure_ascii=True) bytes, surrogate pair: %s", got);
	got = str_as(in, DSCK_JSONW_UTF8, &rc);
	CHECK(rc == 0 && strcmp(got, "\"q\\\"b\\\\ \\b\\f\\n\\r\\t\\u0001\\u001f\x7f "
				   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"") == 0,
	      "UTF8: serde_json bytes, DEL and UTF-8 raw");
	got = str_as("", DSCK_JSONW_ASCII, &rc);
	CHECK(rc == 0 && strcmp(got, "\"\"") == 0, "empty string");

	/* J-R2 violations are refused by the ASCII policy only */
	static const char *const bad[] = { "\xff", "\xc0\x80", "\xed\xa0\x80",
					   "\xf4\x90\x80\x80", "\xe2\x82" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		str_as(bad[i], DSCK_JSONW_ASCII, &rc);
		CHECK(rc == -1, "ASCII refuses invalid UTF-8 #%zu", i);
	}
	str_as("\xff", DSCK_JSONW_UTF8, &rc);
	CHECK(rc == 0, "UTF8 copies bytes unchecked (callers validate)");
}

static void test_numbers(void)
{
	struct dsck_jsonw w = DSCK_JSONW_INIT;
	dsck_jsonw_u64(&w, UINT64_MAX);
	dsck_jsonw_put(&w, " ", 1);
	dsck_jsonw_double(&w, 1e-06, 1);
	dsck_jsonw_put(&w, " ", 1);
	dsck_jsonw_double(&w, 10000.0, 1);
	dsck_jsonw_put(&w, " ", 1);
	dsck_jsonw_double(&w, 10000.0, 0);
	dsck_jsonw_put(&w, " ", 1);
	dsck_jsonw_double(&w, 2.827, 1);
	dsck_jsonw_put(&w, " ", 1);
	dsck_jsonw_double(&w, 0.1 + 0.2, 1);
	dsck_jsonw_put(&w, " ", 1);
	dsck_jsonw_double(&w, 1e300 * 1e300, 1);
	dsck_jsonw_printf(&w, " %s-%d", "x", 7);
	CHECK(w.p && strcmp(w.p, "18446744073709551615 1e-06 10000.0 "
				 "10000 2.827 0.30000000000000004 null x-7") == 0,
	      "numbers as Python prints them: %s", w.p ? w.p : "(null)");
	CHECK(dsck_jsonw_check(&w, "t", NULL) == DSCK_OK, "no failure latched");
	dsck_jsonw_release(&w);

	/* a printf fragment longer than the stack buffer */
	char big[1000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	dsck_jsonw_printf(&w, "<%s>", big);
	CHECK(w.len == sizeof big + 1 && w.p[0] == '<' && w.p[w.len - 1] == '>' &&
	      w.p[w.len] == '\0', "long printf fragment formatted in place");
	dsck_jsonw_release(&w);
}

static void test_limit_and_take(void)
{
	struct dsck_jsonw w = DSCK_JSONW_INIT;
	struct dsck_error err;
	size_t len = 99;

	CHECK(dsck_jsonw_take(&w, &len) == NULL && len == 0, "take of nothing is NULL");
	w.limit = 10;
	dsck_jsonw_puts(&w, "0123456789");
	CHECK(dsck_jsonw_check(&w, "t", NULL) == DSCK_OK && w.len == 10 && w.cap <= 11,
	      "exactly the limit fits; capacity capped at limit + 1");
	dsck_jsonw_put(&w, "x", 1);
	dsck_jsonw_puts(&w, "");
	dsck_error_clear(&err);
	CHECK(w.over && w.len == 10 && dsck_jsonw_check(&w, "doc", &err) == DSCK_E_LIMIT,
	      "one byte past the limit latches LIMIT");
	CHECK(dsck_jsonw_take(&w, &len) == NULL && len == 0 && w.p == NULL && w.limit == 10,
	      "take after a failure is NULL and releases");

	w = (struct dsck_jsonw)DSCK_JSONW_INIT;
	for (int i = 0; i < 5000; i++)
		dsck_jsonw_puts(&w, "ab");
	char *t = dsck_jsonw_take(&w, &len);
	CHECK(t && len == 10000 && t[9999] == 'b' && t[10000] == '\0' && w.p == NULL,
	      "growth past the first capacity; take hands the text over");
	free(t);
	dsck_jsonw_release(&w); /* twice is harmless */
	dsck_jsonw_release(&w);
}

int main(void)
{
	test_policies();
	test_numbers();
	test_limit_and_take();
	return test_done();
}
