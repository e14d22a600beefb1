/*
 * test_mp.c - the MP naming and split table (formats.md MP-R1..MP-R3):
 * examples from DeepSeek's convert.py, and every tensor of the 671B,
 * Kimi-K2, Moonlight and V2-Lite inventories mapped to an MP name and back.
 */
#include "../test.h"
#include "fixtures.h"

#include "config.h"
#include "inventory.h"
#include "mp.h"
#include "strmap.h"

#include <stdio.h>
#include <string.h>

static void example(const char *hf, const char *want, enum dsck_split split,
		    int64_t expert)
{
	char mp[512], back[512];
	struct dsck_mp_info mi;
	int ok = dsck_mp_name(hf, mp, sizeof mp, &mi) == 0;
	CHECK(ok && strcmp(mp, want) == 0 && mi.split == split && mi.expert == expert,
	      "%s -> %s (%s)", hf, want, dsck_split_name(split));
	if (ok && strcmp(mp, want) != 0)
		printf("#   got %s\n", mp);
	CHECK(dsck_mp_hf_name(want, back, sizeof back) == 0 && strcmp(back, hf) == 0,
	      "%s -> %s", want, hf);
}

static void test_examples(void)
{
	example("model.embed_tokens.weight", "embed.weight", DSCK_SPLIT_ROWS, -1);
	example("lm_head.weight", "head.weight", DSCK_SPLIT_ROWS, -1);
	example("model.norm.weight", "norm.weight", DSCK_SPLIT_REPLICA, -1);
	example("model.layers.0.input_layernorm.weight", "layers.0.attn_norm.weight",
		DSCK_SPLIT_REPLICA, -1);
	example("model.layers.0.self_attn.q_b_proj.weight_scale_inv", "layers.0.attn.wq_b.scale",
		DSCK_SPLIT_ROWS, -1);
	example("model.layers.0.self_attn.kv_a_proj_with_mqa.weight", "layers.0.attn.wkv_a.weight",
		DSCK_SPLIT_REPLICA, -1);
	example("model.layers.0.self_attn.o_proj.weight", "layers.0.attn.wo.weight",
		DSCK_SPLIT_COLS, -1);
	example("model.layers.0.self_attn.q_proj.weight", "layers.0.attn.wq.weight",
		DSCK_SPLIT_ROWS, -1);
	example("model.layers.1.mlp.down_proj.weight", "layers.1.ffn.w2.weight",
		DSCK_SPLIT_COLS, -1);
	example("model.layers.3.mlp.gate.weight", "layers.3.ffn.gate.weight",
		DSCK_SPLIT_REPLICA, -1);
	example("model.layers.3.mlp.gate.e_score_correction_bias", "layers.3.ffn.gate.bias",
		DSCK_SPLIT_REPLICA, -1);
	example("model.layers.3.mlp.experts.17.down_proj.weight", "layers.3.ffn.experts.17.w2.weight",
		DSCK_SPLIT_EXPERT, 17);
	example("model.layers.3.mlp.shared_experts.up_proj.weight_scale_inv",
		"layers.3.ffn.shared_experts.w3.scale", DSCK_SPLIT_ROWS, -1);
	example("model.layers.61.embed_tokens.weight", "layers.61.embed.weight",
		DSCK_SPLIT_ROWS, -1);
	example("model.layers.61.shared_head.head.weight", "layers.61.shared_head.head.weight",
		DSCK_SPLIT_ROWS, -1);
	example("model.layers.61.shared_head.norm.weight", "layers.61.shared_head.norm.weight",
		DSCK_SPLIT_REPLICA, -1);
	example("model.layers.61.eh_proj.weight", "layers.61.eh_proj.weight",
		DSCK_SPLIT_REPLICA, -1);

	char out[64];
	struct dsck_mp_info mi;
	CHECK(dsck_mp_name("model.layers.0.self_attn.rotary_emb.inv_freq", out, sizeof out, &mi) != 0,
	      "an unknown module key has no MP name");
	CHECK(dsck_mp_name("model.layers.0.self_attn.q_a_proj.weight", out, 8, &mi) != 0,
	      "a name that does not fit is refused");
	CHECK(dsck_mp_hf_name("layers.0.attn.nothing.weight", out, sizeof out) != 0,
	      "an unknown MP key has no HF name");
}

static void test_inventory(enum fixture_config which, const char *label)
{
	struct dsck_config cfg;
	struct dsck_inventory inv;
	struct dsck_strmap seen = DSCK_STRMAP_INIT;
	struct dsck_error err;
	char (*names)[160] = NULL;
	const char *text = fixture_config(which);
	size_t bad = 0, dup = 0;

	memset(&inv, 0, sizeof inv);
	if (dsck_config_parse(text, strlen(text), &cfg, &err) ||
	    dsck_inventory_build(&cfg, cfg.quantized ? DSCK_CKPT_FP8 : DSCK_CKPT_BF16, &inv, &err)) {
		CHECK(0, "%s: inventory", label);
		return;
	}
	names = calloc(inv.n, sizeof *names);
	for (size_t i = 0; i < inv.n && names; i++) {
		char back[160];
		struct dsck_mp_info mi;
		const struct dsck_inv_tensor *t = &inv.t[i];
		if (dsck_mp_name(t->name, names[i], sizeof names[i], &mi) ||
		    dsck_mp_hf_name(names[i], back, sizeof back) || strcmp(back, t->name) != 0 ||
		    (t->expert >= 0) != (mi.split == DSCK_SPLIT_EXPERT) || mi.expert != t->expert ||
		    mi.layer != t->layer) {
			if (bad++ < 3)
				printf("#   %s -> %s\n", t->name, names[i]);
			continue;
		}
		if (dsck_strmap_insert(&seen, names[i], strlen(names[i]), (uint32_t)i, NULL) == 1)
			dup++;
	}
	CHECK(names && bad == 0, "%s: all %zu tensors map to MP names and back", label, inv.n);
	CHECK(dup == 0, "%s: MP names are distinct", label);
	dsck_strmap_release(&seen);
	free(names);
	dsck_inventory_release(&inv);
}

static void test_files(void)
{
	uint32_t r = 99, n = 99;
	CHECK(dsck_mp_file_parse("model0-mp16.safetensors", &r, &n) == 0 && r == 0 && n == 16,
	      "model0-mp16.safetensors");
	CHECK(dsck_mp_file_parse("model15-mp16.safetensors", &r, &n) == 0 && r == 15,
	      "model15-mp16.safetensors");
	CHECK(dsck_mp_file_parse("model16-mp16.safetensors", &r, &n) != 0, "rank out of range");
	CHECK(dsck_mp_file_parse("model01-mp2.safetensors", &r, &n) != 0, "leading zero");
	CHECK(dsck_mp_file_parse("model0-mp0.safetensors", &r, &n) != 0, "mp0");
	CHECK(dsck_mp_file_parse("model0-mp2.safetensors.tmp", &r, &n) != 0 &&
	      dsck_mp_file_parse("model-00001-of-00005.safetensors", &r, &n) != 0 &&
	      dsck_mp_file_parse("model0-mp2", &r, &n) != 0, "other names");
}

int main(void)
{
	test_examples();
	test_inventory(FIXTURE_671B, "671B");
	test_inventory(FIXTURE_KIMI_K2, "Kimi-K2");
	test_inventory(FIXTURE_MOONLIGHT, "Moonlight");
	test_inventory(FIXTURE_V2_LITE, "V2-Lite");
	test_files();
	return test_done();
}
