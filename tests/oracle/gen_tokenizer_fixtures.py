#!/usr/bin/env python3
"""gen_tokenizer_fixtures.py - expected ids and decodes for the tokenizer tests.

Run by hand (needs HF `tokenizers`, and `transformers` for the chat-template
strings), from the repository root:

    build/bin/dsck-synth --preset tiny -o /tmp/tsyn
    python3 tests/oracle/gen_tokenizer_fixtures.py /tmp/tsyn

It writes, under tests/oracle/tokenizer_fixtures/:
  synth/tokenizer.json, synth/tokenizer_config.json
        copies of what dsck-synth --preset tiny writes
  trained/tokenizer.json, trained/tokenizer_config.json
        a byte-level BPE trained here with the DeepSeek-V3 pre-tokenizer
        (three Split regexes, Isolated, then ByteLevel without regex), the
        DeepSeek special tokens and the DeepSeek-V3 chat template
  synth_cases.json, trained_cases.json
        {"encode": [{"text", "ids", "ids_bos", "decode", "decode_skip"}],
         "decode": [{"ids", "text", "text_skip"}],
         "chat": [{"user", "text", "ids"}]}
        ids: encode(text, add_special_tokens=False); ids_bos: the bos id
        followed by ids; decode/decode_skip: decode(ids_bos) without and
        with skip_special_tokens; "decode" cases are arbitrary id lists
        (partial UTF-8 sequences decode to U+FFFD; lists holding the
        token of byte 0x00 are left out); "chat" cases are the
        chat template rendered for one user turn with the generation prompt,
        and its ids (encode without special tokens: the template holds bos).
Every string is valid UTF-8 without NUL (the strict JSON profile forbids
\\u0000), so the C test reads the files with the library's JSON reader.
"""
import json
import os
import random
import shutil
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models
from tokenizers import pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tokenizer_fixtures")

BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"
USER = "<\uff5cUser\uff5c>"
ASSISTANT = "<\uff5cAssistant\uff5c>"

# The DeepSeek-V3 pre-tokenizer splits, in order (reference notes §8.2).
SPLITS = [
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"""
    r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
    r"| ?[\p{P}\p{S}]+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+",
]

# The DeepSeek-V3 (0324) chat template.
CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}"
    "{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}"
    "{%- else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}"
    "{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}"
    "{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}"
    "{{'" + USER + "' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{%- if ns.is_tool %}{{'<\uff5ctool\u2581outputs\u2581end\uff5c>' + message['content'] + '" + EOS + "'}}"
    "{%- set ns.is_tool = false -%}{%- else %}{{'" + ASSISTANT + "' + message['content'] + '" + EOS + "'}}"
    "{%- endif %}{%- endif %}{%- endfor -%}"
    "{% if add_generation_prompt and not ns.is_tool %}{{'" + ASSISTANT + "'}}{% endif %}"
)

# Training text: varied scripts, digits, whitespace, punctuation, code.
BASE_LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "It's a dog's life, isn't it? They're here; we've seen them; I'll go; he'd know; I'm sure.",
    "DON'T SHOUT. Don't whisper either. 'quoted' and \"double quoted\" text.",
    "Numbers: 0 1 12 123 1234 12345 123456 1234567 3.14159 2,718 -42 +7 1e10 0x1F",
    "Dates like 2024-12-31 and 31/12/2024, times like 23:59:59, phones +1 (555) 010-9999.",
    "Prices: $9.99, \u20ac10, \u00a35, \u00a5100, 50% off, 3\u00bd cups, \u00b1 0.5\u00b0C.",
    "\u6211\u4eec\u4eca\u5929\u53bb\u516c\u56ed\u6563\u6b65\uff0c\u5929\u6c14\u5f88\u597d\u3002",
    "\u6df1\u5ea6\u5b66\u4e60\u6a21\u578b\u9700\u8981\u5927\u91cf\u7684\u6570\u636e\u548c\u8ba1\u7b97\u8d44\u6e90\u3002",
    "\u6bd5\u8001\u5e08\uff01\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002",
    "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3092\u6df7\u305c\u307e\u3059\u3002",
    "\u6771\u4eac\u30bf\u30ef\u30fc\u306f\u9ad8\u3044\u3067\u3059\u3002\u30b3\u30fc\u30d2\u30fc\u3092\u98f2\u307f\u307e\u3057\u3087\u3046\u3002",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\ub3c4 \uc788\uc2b5\ub2c8\ub2e4. \uc548\ub155\ud558\uc138\uc694!",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0647\u0630\u0627 \u0646\u0635 \u0639\u0631\u0628\u064a \u0645\u0639 \u0623\u0631\u0642\u0627\u0645 \u0661\u0662\u0663\u0664.",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e, \u092f\u0939 \u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u090f\u0915 \u0935\u093e\u0915\u094d\u092f \u0939\u0948\u0964",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u042d\u0442\u043e \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442.",
    "\u0393\u03b5\u03b9\u03b1 \u03c3\u03bf\u03c5 \u03ba\u03cc\u03c3\u03bc\u03b5! \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac.",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd, \u05d6\u05d4 \u05d8\u05e7\u05e1\u05d8 \u05d1\u05e2\u05d1\u05e8\u05d9\u05ea.",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade \u00fcber Stra\u00dfe \u00e5ngstr\u00f6m \u0142\u00f3d\u017a",
    "Cafe\u0301 with a combining accent, and n\u0303 too.",
    "Emoji: \U0001F600 \U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 \U0001F3F3\ufe0f\u200d\U0001F308 \u2764\ufe0f \U0001F1EF\U0001F1F5",
    "\U0001F9D1\U0001F3FF\u200d\U0001F4BB codes; \U0001F44B\U0001F3FB hello; \U0001F525\U0001F525\U0001F525",
    "Tabs\tseparate\tcolumns\tof\tdata\t\t\tand trailing tabs\t",
    "Many    spaces   between     words       here.",
    "Line one\nLine two\r\nLine three\rLine four\n\n\nAfter blank lines.",
    "   leading spaces and trailing spaces   ",
    "def foo(x, y=2):\n    return x ** y + bar[0] // 3  # comment\n",
    "for (int i = 0; i < n; i++) { sum += a[i] * b[i]; }",
    "if (p != NULL && p->next) { free(p->next); p->next = NULL; }",
    "const f = async (a) => { await g(a?.b ?? 0); return `${a}!`; };",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
    "<div class=\"box\"><p>Hello &amp; welcome</p></div>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "https://example.com/path/to/page?query=1&other=two#frag",
    "user@example.org, first.last+tag@mail.co.uk",
    "Punctuation!!! ??? ... --- *** ~~~ ^^^ ||| \\\\ // (()) [[]] {{}}",
    "\u201cCurly quotes\u201d and \u2018single\u2019 ones \u2014 dashes \u2013 and ellipses\u2026",
    "Math: \u2200x \u2208 \u211d, x\u00b2 \u2265 0; \u2211 \u222b \u221a2 \u2248 1.414; \u03b1+\u03b2=\u03b3",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "version 1.2.3-rc.4+build.567 and v10.0.19045",
    "The year 1999 was followed by 2000, then 2001 and 20250101.",
    "A\u00a0non\u2011breaking\u00a0space and a thin\u2009space and an em\u2003space.",
    "Zero\u200bwidth\u200bspace and ideographic\u3000space.",
    "Mixed: English \u4e2d\u6587 \u65e5\u672c\u8a9e \ud55c\uad6d\uc5b4 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0939\u093f\u0928\u094d\u0926\u0940 123 \U0001F600",
    "Full-width: \uff21\uff22\uff23\uff11\uff12\uff13\uff01\uff1f",
    "Roman numerals \u2160 \u2161 \u2162 and circled \u2460 \u2461 \u2462 digits.",
    # Unicode 15.0 to 16.0 (formats.md RT-R15): symbols (new emoji, IDCs),
    # letters (CJK extensions H and I, Kawi, Garay), marks, digits and
    # punctuation that PCRE2 10.42's Unicode 14.0 tables call unassigned
    "New emoji \U0001FA75\U0001FAE8 and \U0001F6DC, a heart: \U0001FA75!",
    "a\U0001FA75b \U0001FAE8\U0001FAE8 x\u2ffc\u2ffd y \u31e4 \u2427",
    "CJK H \U00031350\U00031351\U000323AF and I \U0002EBF0\U0002EBF1 mixed \u4e00\U00031350",
    "Kawi \U00011F04\U00011F05 Garay \U00010D4A\U00010D4B\U00010D69 letters, \U00010D40\U00010D41 digits",
    "Digits \U000116D0\U000116D1 and \U0001E5F1\U0001E5F2 then 123; punctuation \u1b4e\u1b7f\U00011F43.",
    "Marks: a\u0897 \u0cf3 \u0ece; Tulu \U00011380\U000113B8 \U000113D4",
]

WORDS = ("time person year way day thing man world life hand part child eye woman place work week case point "
         "government company number group problem fact be have do say get make go know take see come think look "
         "want give use find tell ask seem feel try leave call good new first last long great little own other old "
         "right big high different small large next early young important few public bad same able model token "
         "tensor shard weight layer expert router attention matrix vector kernel buffer stream parser decoder").split()


def training_lines():
    """A few hundred lines: the base lines, then deterministic mixtures."""
    rng = random.Random(1234)
    lines = list(BASE_LINES)
    for i in range(300):
        n = rng.randint(4, 14)
        ws = [rng.choice(WORDS) for _ in range(n)]
        if i % 3 == 0:
            ws.insert(rng.randrange(len(ws)), str(rng.randint(0, 10 ** rng.randint(1, 9))))
        if i % 4 == 0:
            ws[0] = ws[0].capitalize()
        sep = rng.choice([" ", " ", " ", "  ", "\t"])
        end = rng.choice([".", "!", "?", ",", ";", "", "\n"])
        line = sep.join(ws) + end
        if i % 5 == 0:
            line += " " + rng.choice(BASE_LINES)
        lines.append(line)
    # pseudo-words in several scripts, so the merges reach a few thousand
    syl = ["ka", "ri", "mo", "ten", "sul", "bra", "ve", "dor", "qui", "lan", "st", "ph", "ough", "tion", "ing"]
    cyr = [chr(c) for c in range(0x430, 0x450)]
    for i in range(300):
        ws = ["".join(rng.choice(syl) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(5, 12))]
        ws += ["".join(rng.choice(cyr) for _ in range(rng.randint(2, 7))) for _ in range(rng.randint(0, 3))]
        cjk = "".join(chr(rng.randint(0x4e00, 0x4fff)) for _ in range(rng.randint(0, 8)))
        lines.append(" ".join(ws) + (" " + cjk if cjk else "") + rng.choice([".", "!", " 42", "\n", ""]))
    return lines


# Characters for random strings: each class of the regexes and its edges.
POOL = (list("abcXYZ019 \t\n\r'\".,!?-_/\\()[]{}<>@#$%^&*+=~`|:;") +
        ["\u00a0", "\u0085", "\u2028", "\u2029", "\u3000", "\u200b", "\u2009", "\u000b", "\u000c",
         "\u00e9", "e\u0301", "\u0303", "\u4e00", "\u9fa5", "\u9fa6", "\u3040", "\u3041", "\u309f", "\u30a0",
         "\u30ff", "\u3005", "\uac00", "\u0627", "\u0661", "\u0939", "\u093f", "\u0966", "\u00bd", "\u00b2",
         "\u2160", "\u2460", "\uff11", "\uff01", "\u3002", "\uff0c", "\u2014", "\u2026", "\u20ac", "\u00a9",
         "\U0001F600", "\U0001F3FD", "\u200d", "\ufe0f", "\U0001F468", "\U0001F1EF", "\U00010348", "\U00020000",
         "\u0e01", "\u0e31", "\u05d0", "\u0410", "\u03b1", "\u2203", "\u00ad", "\ufffd", "\u0001", "\u001f",
         "\u007f", "\u0080", "\u009f", "\ue000", "\U0010fffd", BOS, EOS, USER, ASSISTANT, "<think>",
         "<\uff5c", "\uff5c>", "\u2581"])

EDGE_CASES = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\n ", " \n \n ", "a", "a ", " a", "a  ", "  a",
    "hello", "Hello world", "Hello world  ", "Hello  \n  world", "trailing\n", "trailing \t ",
    "1", "12", "123", "1234", "12345", "1234567", "12345678901234567890", "a1b22c333d4444",
    "\u0661\u0662\u0663\u0664\u0665", "\uff11\uff12\uff13\uff14", "\u00bd\u00bc", "\u2160\u2161\u2162\u2163",
    "it's", "It's", "IT'S", "isn't", "they're", "we've", "I'll", "he'd", "I'm", "'s", " 's", "''", "'",
    "Hello! \u6bd5\u8001\u5e08\uff011 + 1 = 2 \u0120\u00d1\u0124\u00d0\u00b2\u00d1\u012c\u00d1\u0122",
    BOS, EOS, USER, ASSISTANT, BOS + BOS, BOS + "Hi" + EOS, "x" + BOS + "y", " " + EOS + " ",
    USER + "What is 2+2?" + ASSISTANT, USER + ASSISTANT, "<\uff5cUser", "\uff5cUser\uff5c>",
    "<\uff5cbegin\u2581of\u2581sentence", BOS[:-1] + " >", "<think>", "</think>", "<think>plan</think>answer",
    "a<think>b", "<think><think>", "<thinking>", "<think", "</think >",
    "\U0001F600", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F44D\U0001F3FD", "\U0001F1EF\U0001F1F5",
    "\u2764\ufe0f", "e\u0301", "\u0303", " \u0301", "\u200b", "\u00a0", " \u00a0 ", "\u3000", "\u0085", "\u2028",
    "\u4e2d\u6587", "\u4e2d \u6587", "\u3053\u3093\u306b\u3061\u306f", "\u30ab\u30bf\u30ab\u30ca", "\u4e2d\u3042\u30a2\u4e00",
    "\u9fa5\u9fa6", "\u3005\u3006", "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "!!!", "...", " ...", "?!\n", ".\n\n", " (x)", "[1,2]", "a.b", ".a", ".abc", "\"abc", "_abc", "\\abc",
    "a.B", "..abc", " .abc", "-abc-", "\u2014abc", "\u00bfQu\u00e9?", "\u00a1Hola!",
    "x\r\ny", "x\ry", "x \r\n y", "\t\t\n\t", " \t \n", "a\n\n\n\nb", "a \n\n b",
    "    return x", "\tif x:\n\t\tpass\n", "int main(void) { return 0; }", "a->b", "x=>y", "i++", "a::b",
    "\u00e9t\u00e9", "\u0130stanbul", "\u00df\u1e9e", "\u01c5", "\u02b0", "\u0100\u0101",
    "\u00ad", "\ufffd", "\u0001\u0002", "\u007f\u0080", "\ue000", "\U0010fffd", "\U00010348", "\U00020000\U0002a6df",
    "A" * 300, "ab" * 200, " " * 100, "\n" * 50, "9" * 101, "\u4e00" * 60, "\U0001F600" * 20,
]


def random_strings(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 24)
        out.append("".join(rng.choice(POOL) for _ in range(k)))
    return out


def train_tokenizer(lines):
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(p), behavior="isolated", invert=False) for p in SPLITS] +
        [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False)
                for t in (BOS, EOS, USER, ASSISTANT)]
    trainer = trainers.BpeTrainer(vocab_size=4000, min_frequency=1, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ("<think>", "</think>")])
    tok.post_processor = processors.TemplateProcessing(single=BOS + " $A", pair=BOS + " $A " + BOS + " $B",
                                                       special_tokens=[(BOS, tok.token_to_id(BOS))])
    return tok


def trained_config():
    tok_obj = lambda c: {"__type": "AddedToken", "content": c, "lstrip": False, "normalized": True,
                         "rstrip": False, "single_word": False}
    return {
        "add_bos_token": True, "add_eos_token": False,
        "bos_token": tok_obj(BOS), "eos_token": tok_obj(EOS), "pad_token": tok_obj(EOS),
        "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False, "legacy": True,
        "model_max_length": 16384, "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizerFast",
        "unk_token": None, "use_default_system_prompt": False,
    }


def cases(dirpath, tok, texts, seed):
    bos = tok.token_to_id(BOS)
    enc = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        ids_bos = tok.encode(t, add_special_tokens=True).ids
        assert ids_bos == [bos] + ids, (t, ids_bos, ids)
        enc.append({"text": t, "ids": ids, "ids_bos": ids_bos,
                    "decode": tok.decode(ids_bos, skip_special_tokens=False),
                    "decode_skip": tok.decode(ids_bos, skip_special_tokens=True)})
    # arbitrary id lists: single tokens (partial UTF-8), runs, specials
    rng = random.Random(seed)
    n = tok.get_vocab_size(with_added_tokens=True)
    dec = []
    lists = [[]] + [[i] for i in range(n)] if n <= 800 else [[]] + [[i] for i in range(0, n, 7)]
    for _ in range(200):
        lists.append([rng.randrange(n) for _ in range(rng.randint(1, 12))])
    for ids in lists:
        if any(0 in tok.decode([i]).encode() for i in ids):
            continue  # NUL cannot appear in a strict-profile JSON string
        dec.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False),
                    "text_skip": tok.decode(ids, skip_special_tokens=True)})
    chat = []
    try:
        from transformers import PreTrainedTokenizerFast
        with open(os.path.join(dirpath, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS)
        hf.chat_template = cfg["chat_template"]
        for user in ["Hello!", "", " spaced  ", "\u4f60\u597d\uff0c\u4e16\u754c", "Line\nbreak\n",
                     "Say " + EOS + " here", "What is 1234567 * 89?"]:
            text = hf.apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True,
                                          tokenize=False)
            chat.append({"user": user, "text": text, "ids": tok.encode(text, add_special_tokens=False).ids})
    except ImportError:
        print("transformers not installed: no chat cases", file=sys.stderr)
    return {"encode": enc, "decode": dec, "chat": chat}


def dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_tokenizer_fixtures.py SYNTH_TINY_DIR")
    lines = training_lines()
    texts = EDGE_CASES + BASE_LINES + lines[len(BASE_LINES):len(BASE_LINES) + 40]

    sdir = os.path.join(OUT, "synth")
    os.makedirs(sdir, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(sys.argv[1], name), os.path.join(sdir, name))
    stok = Tokenizer.from_file(os.path.join(sdir, "tokenizer.json"))
    dump(os.path.join(OUT, "synth_cases.json"), cases(sdir, stok, texts + random_strings(150, 1), 11))

    tdir = os.path.join(OUT, "trained")
    os.makedirs(tdir, exist_ok=True)
    ttok = train_tokenizer(lines)
    ttok.save(os.path.join(tdir, "tokenizer.json"), pretty=False)
    with open(os.path.join(tdir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(trained_config(), f, ensure_ascii=False, indent=2)
        f.write("\n")
    ttok = Tokenizer.from_file(os.path.join(tdir, "tokenizer.json"))
    dump(os.path.join(OUT, "trained_cases.json"), cases(tdir, ttok, texts + random_strings(250, 2), 22))
    print("vocab: synth %d, trained %d; cases: %d + %d texts" %
          (stok.get_vocab_size(), ttok.get_vocab_size(), len(texts) + 150, len(texts) + 250))


if __name__ == "__main__":
    main()
