/*
 * fuzz_tokenizer.c - libFuzzer entry for tokenizer.json (runtime/tokenizer.c):
 * the input is parsed as a tokenizer; when it loads, a few texts are
 * encoded and their ids decoded again. Any crash, leak or sanitizer report
 * is a bug: untrusted model files never crash dsck.
 */
#include "tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const texts[] = {
		"", "hello world", "  x\t\n 12345 ", "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80",
		"<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>abc",
	};
	struct dsck_tok *tok = NULL;
	struct dsck_error err;

	if (dsck_tok_parse((const char *)data, size, &tok, &err) != DSCK_OK)
		return 0;
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		uint32_t *ids = NULL;
		size_t n = 0;
		if (dsck_tok_encode(tok, texts[i], strlen(texts[i]), 0, &ids, &n, &err) == DSCK_OK) {
			char *text = NULL;
			size_t len = 0;
			if (dsck_tok_decode(tok, ids, n, 0, &text, &len, &err) == DSCK_OK)
				free(text);
		}
		free(ids);
	}
	dsck_tok_free(tok);
	return 0;
}
