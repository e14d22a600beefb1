/* chat.c - the DeepSeek-V3 chat format for one user turn (chat.h). */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#define CHAT_USER "<\uff5cUser\uff5c>"
#define CHAT_ASSISTANT "<\uff5cAssistant\uff5c>"

enum dsck_err dsck_chat_format(const struct dsck_tok *tok, const char *user_text,
			       char **out, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	size_t bos_len = 0, n_user = strlen(user_text);
	const char *bos = NULL;
	char *s = NULL;

	*out = NULL;
	if (dsck_tok_bos(tok) != DSCK_TOK_NONE)
		bos = dsck_tok_text(tok, dsck_tok_bos(tok), &bos_len);
	if (!bos || dsck_tok_id(tok, CHAT_USER) == DSCK_TOK_NONE ||
	    dsck_tok_id(tok, CHAT_ASSISTANT) == DSCK_TOK_NONE) {
		dsck_error_tensor(err, !bos ? "bos_token" : "added_tokens");
		rc = dsck_error_set(err, DSCK_E_CONFIG_MISSING,
				    "the tokenizer lacks the tokens of the DeepSeek chat format");
		goto out;
	}
	/* all parts are in memory already, so the sum cannot overflow */
	size_t n = bos_len + (sizeof CHAT_USER - 1) + n_user + (sizeof CHAT_ASSISTANT - 1);
	s = malloc(n + 1);
	if (!s) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "chat prompt");
		goto out;
	}
	char *p = s;
	memcpy(p, bos, bos_len);
	p += bos_len;
	memcpy(p, CHAT_USER, sizeof CHAT_USER - 1);
	p += sizeof CHAT_USER - 1;
	memcpy(p, user_text, n_user);
	p += n_user;
	memcpy(p, CHAT_ASSISTANT, sizeof CHAT_ASSISTANT - 1);
	p += sizeof CHAT_ASSISTANT - 1;
	*p = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	return rc;
}
