/*
 * chat.h - the DeepSeek-V3 chat format for one user turn.
 *
 * DeepSeek-V3's tokenizer_config.json chat_template, rendered for
 * [{"role": "user", "content": TEXT}] with add_generation_prompt=True, is
 *
 *     BOS "<｜User｜>" TEXT "<｜Assistant｜>"
 *
 * where BOS is the text of bos_token, "<｜begin▁of▁sentence｜>" (the
 * template writes {{bos_token}}, then the system prompts, none here, then
 * "<｜User｜>" + content per user turn, then "<｜Assistant｜>" for the
 * generation prompt). R1's template ends in "<｜Assistant｜><think>\n"
 * instead; this is the V3 form. TEXT is inserted as it is: the special
 * tokens it may contain are matched as tokens when the string is encoded,
 * as with HF.
 *
 * BOS rule: the string already starts with the bos token, so encode it
 * with add_bos = 0 (HF: apply_chat_template(tokenize=True) does the same).
 */
#ifndef DSCK_CHAT_H
#define DSCK_CHAT_H

#include "err.h"
#include "tokenizer.h"

/*
 * The formatted prompt for user_text (NUL-terminated, UTF-8) into a new
 * NUL-terminated string *out the caller frees. CONFIG_MISSING when the
 * tokenizer has no bos token or lacks <｜User｜> or <｜Assistant｜>.
 */
enum dsck_err dsck_chat_format(const struct dsck_tok *tok, const char *user_text,
			       char **out, struct dsck_error *err);

#endif
