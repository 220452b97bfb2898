"""The tokenizer conformance corpus: strings in many scripts, emoji, code, numbers, whitespace
runs, decomposed text, special tokens inside text and random UTF-8, made deterministically.

Run as a script to (re)write the fixture tests/fixtures/llm/qwen3_tokenizer_corpus.json with the
ids Hugging Face `tokenizers` gives each string on models/qwen3-tokenizer/tokenizer.json, plus
cases for added tokens with single_word/lstrip/rstrip/normalized flags and for the chat
template (rendered by jinja2 from tokenizer_config.json). The C++ tests read the fixture; the
Python tests also compare live when `tokenizers` is installed.
"""

import functools
import json
import pathlib
import random
import sys
import unicodedata

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKENIZER_DIR = ROOT / "models" / "qwen3-tokenizer"
FIXTURE = ROOT / "tests" / "fixtures" / "llm" / "qwen3_tokenizer_corpus.json"
SEED = 20251123

SCRIPTS = {
    "latin": ["The quick brown fox jumps over the lazy dog.", "Hello, world!",
              "naïve café résumé façade coöperate", "Ærøskøbing og Ålborg",
              "Größenwahn über alles, sagte Herr Müller.", "¿Dónde está la biblioteca?",
              "İstanbul'da ılık bir gün; ŞEHİR ışıkları.", "Đà Nẵng, Việt Nam: phở bò ngon lắm!",
              "Œuvre, Łódź, Ħamrun, Ŵales, ǅemal"],
    "greek": ["Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.", "ΑΒΓΔ αβγδ ΐΰ ϐϑϕ"],
    "cyrillic": ["Съешь же ещё этих мягких французских булок, да выпей чаю.",
                 "Привет, мир! Ёлка и ЙОГУРТ.", "Україна, Беларусь, Србија, Македонија"],
    "armenian_georgian": ["Բարեւ աշխարհ", "გამარჯობა მსოფლიო", "ႠႡႢ ⴀⴁⴂ"],
    "hebrew_arabic": ["שלום עולם, מה שלומך?", "مرحبا بالعالم! كيف حالك اليوم؟",
                      "اَلْعَرَبِيَّةُ لُغَةٌ جَمِيلَةٌ", "فارسی: سلام دنیا، ۱۲۳۴۵",
                      "اردو: ہیلو ورلڈ ٹیسٹ"],
    "indic": ["नमस्ते दुनिया, आप कैसे हैं?", "क्षत्रिय ज्ञान श्रृंखला", "হ্যালো বিশ্ব",
              "வணக்கம் உலகம்", "హలో ప్రపంచం", "ಹಲೋ ವಿಶ್ವ", "ഹലോ ലോകം", "ਸਤ ਸ੍ਰੀ ਅਕਾਲ",
              "નમસ્તે વિશ્વ", "ଓଡ଼ିଆ ଭାଷା", "ආයුබෝවන් ලෝකය"],
    "southeast_asian": ["สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ", "ສະບາຍດີ ໂລກ",
                        "សួស្តី​ពិភពលោក", "မင်္ဂလာပါ ကမ္ဘာ", "Xin chào thế giới"],
    "cjk": ["你好，世界！今天天气很好。", "機械学習と自然言語処理の研究をしています。",
            "カタカナ ひらがな 漢字 ｶﾀｶﾅ", "안녕하세요 세계, 한국어 텍스트입니다.",
            "繁體中文與简体中文混合使用", "𠀀𠀁𠀂 𪚥 𩸽", "「引用」『二重』【括弧】〔記号〕"],
    "other": ["ሰላም ልዑል", "བཀྲ་ཤིས་བདེ་ལེགས།", "ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "ᐃᓄᒃᑎᑐᑦ",
              "ꦧꦱꦗꦮ", "𐌰𐌱𐌲 𐍈", "ᚠᚢᚦᚨᚱᚲ"],
    "emoji": ["I ❤️ tokenizers 😀😃😄", "👨‍👩‍👧‍👦 family, 👩🏽‍💻 coder, 🧑🏿‍🚀 astronaut",
              "👍🏻👍🏼👍🏽👍🏾👍🏿", "🇯🇵🇺🇸🇫🇷🇩🇪 flags", "#️⃣ 1️⃣ 2️⃣ keycaps",
              "🏳️‍🌈 🏴‍☠️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿", "☺︎ ☺️ text vs emoji", "🤷‍♀️🤦‍♂️🙇‍♀️", "❤️‍🔥 ❤️‍🩹 🫶🏽"],
    "symbols": ["∀x ∈ ℝ: x² ≥ 0 ⇒ √(x²) = |x|", "E = mc², H₂O, ½ + ¼ = ¾",
                "© ® ™ § ¶ † ‡ • … ‰ ′ ″", "→ ← ↑ ↓ ⇄ ⟶ ⌘ ⌥ ⇧", "€100, £50, ¥1000, ₹500, ₿0.5",
                "ﬁ ﬂ ﬀ ligatures, ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ", "Ⓐⓑⓒ ①②③ ⅠⅡⅢ ㊗️"],
}

CODE = [
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "#include <vector>\nint main() {\n  std::vector<int> v{1, 2, 3};\n  return v.size();\n}\n",
    "fn main() {\n    let xs: Vec<u32> = (0..10).map(|x| x * x).collect();\n"
    "    println!(\"{:?}\", xs);\n}\n",
    "const add = (a, b) => a + b;\nconsole.log(`sum: ${add(1, 2)}`);\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "SELECT name, COUNT(*) AS n FROM users WHERE age >= 18 GROUP BY name ORDER BY n DESC;",
    "<!DOCTYPE html>\n<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    '{"key": [1, 2.5, -3e10, true, null], "nested": {"a": "b\\n"}}',
    "for f in *.txt; do\n  wc -l \"$f\" | awk '{print $1}'\ndone 2>/dev/null",
    "\\begin{equation}\n  \\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}\n\\end{equation}",
    "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@(?:[a-z0-9-]+\\.)+[a-z]{2,}$",
    "class Foo(Bar):\n\t\"\"\"Docstring.\"\"\"\n\n\tdef __init__(self, *args, **kwargs):\n"
    "\t\tsuper().__init__(*args, **kwargs)\n",
    "    if (x != nullptr && x->next) {\n        x = x->next; // advance\n    }\r\n",
    "x <<= 2; y >>= 3; z ^= ~w; a ||= b; c &&= d; e ??= f;",
    "public static void main(String[] args) { System.out.println(\"Hello\"); }",
    "local t = {1, 2, 3}\nfor i, v in ipairs(t) do print(i, v) end",
    "SUM(A1:A10) / COUNTIF(B:B, \">0\")",
    "diff --git a/x b/x\n@@ -1,3 +1,4 @@\n-old line\n+new line\n context",
]

NUMBERS = ["0", "7", "42", "123456789", "3.14159265358979", "-0.001", "1e-9", "6.022e23",
           "1,234,567.89", "12 345 678", "2025-11-23T18:10:00Z", "+1 (555) 123-4567",
           "192.168.0.1", "0xDEADBEEF", "0b1010_1010", "v1.2.3-rc.4", "١٢٣٤٥٦٧٨٩٠",
           "१२३४५६७८९०", "一二三四五六七八九十", "Ⅻ ⅻ", "₀₁₂₃ ⁰¹²³", "3½ 1¾",
           "99999999999999999999999999999999", "007 0007 00007"]

WHITESPACE = [" ", "  ", "    ", " " * 17, "\t", "\t\t\t", "\n", "\n\n", "\n" * 9, "\r\n",
              "\r\n\r\n", "\r", " \n ", "  \n\n  \n", "\t \t \n", "\u00a0", "\u00a0\u00a0 ",
              "\u3000\u3000", "\u2028", "\u2029", "\u2003\u2009\u200a", "\u0085", "\u000b\u000c",
              "\u200b", "\ufeff", "\u180e", "\u202f\u205f"]

SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>",
            "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|vision_pad|>", "<|box_start|>",
            "<tool_response>", "<|im_start", "im_end|>", "<|im_start|", "<|", "|>", "< think >",
            "<|IM_START|>", "<|endoftext|><|endoftext|>"]

CONTRACTIONS = ["it's", "It'S", "we'll", "WE'LL", "they're", "I've", "I'm", "she'd", "don't",
                "DON'T", "o'clock", "rock 'n' roll", "it’s curly", "ſ'ſ", "'s", "''", "'",
                "x's'll've", "l'homme d'état", "'tis"]

COMBINING = ["e\u0301", "cafe\u0301", "A\u030a", "o\u0308\u0304", "a\u0323\u0302",
             "a\u0302\u0323", "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af",
             "n\u0303o\u0303", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319",
             "\u0915\u094d\u0937", "i\u0307", "\u212b", "\u2126", "\u00c5\u212b", "\u0387\u037e",
             "\u1e9b\u0323", "\u0041\u030a\u0301"]


def _nfd(text):
    return unicodedata.normalize("NFD", text)


def _random_code_point(rng):
    # Blocks assigned long ago, so that every Unicode version in play agrees on them.
    ranges = [(0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF),
              (0x400, 0x4FF), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F),
              (0x1100, 0x11FF), (0x2000, 0x206F), (0x2190, 0x21FF), (0x2500, 0x257F),
              (0x3000, 0x30FF), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF),
              (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x20000, 0x2A6D6)]
    low, high = rng.choice(ranges)
    while True:
        cp = rng.randint(low, high)
        if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) != "Cn":
            return chr(cp)


def _pieces():
    pieces = [s for texts in SCRIPTS.values() for s in texts]
    return pieces + CODE + NUMBERS + CONTRACTIONS + COMBINING


def corpus():
    """The corpus: a fixed list of strings (the same on every run and machine)."""
    rng = random.Random(SEED)
    cases = []
    seen = set()

    def add(text):
        if text not in seen:
            seen.add(text)
            cases.append(text)

    add("")
    for texts in SCRIPTS.values():
        for text in texts:
            add(text)
            add(" " + text)
            add(_nfd(text))
            add(text.upper())
    for text in CODE + NUMBERS + CONTRACTIONS + COMBINING + WHITESPACE + SPECIALS:
        add(text)
    for a in WHITESPACE:  # whitespace runs between and around words
        for b in ["x", "Hello", "你好", "1", "!", "é"]:
            add(b + a + b)
            add(a + b)
            add(b + a)
    for special in SPECIALS:  # special tokens inside text
        for left, right in [("Hello", "world"), (" ", " "), ("\n", "\n"), ("é", "\u0301"),
                            ("", "user\nHi"), ("x", ""), ("<", ">"), ("<|", "|>")]:
            add(left + special + right)
    pieces = _pieces()
    while len(cases) < 700:  # random mixes of the pieces above
        parts = [rng.choice(pieces) for _ in range(rng.randint(2, 5))]
        glue = [rng.choice(["", " ", "  ", "\n", "\n\n", "\t", ", ", ". ", " " * rng.randint(2, 9),
                            rng.choice(SPECIALS), rng.choice(WHITESPACE)])
                for _ in parts]
        add("".join(p + g for p, g in zip(parts, glue)))
    while len(cases) < 850:  # words of one script with odd spacing and case
        words = rng.choice(list(SCRIPTS.values()) + [CODE, NUMBERS]).copy()
        rng.shuffle(words)
        text = rng.choice([" ", "", "\n", "  "]).join(words[: rng.randint(1, 4)])
        if rng.random() < 0.3:
            text = text.swapcase()
        if rng.random() < 0.3:
            text = _nfd(text)
        add(text[: rng.randint(1, 200)])
    while len(cases) < 1150:  # random valid UTF-8
        add("".join(_random_code_point(rng) for _ in range(rng.randint(1, 40))))
    for n in [50, 200, 1000]:  # long runs
        add(" " * n)
        add("\n" * n)
        add("a" + " " * n + "b")
        add(" \n" * (n // 2))
        add("ab" * (n // 2))
        add("9" * n)
        add("!" * n)
        add("😀" * (n // 10))
    return cases


def added_token_variant():
    """Added tokens with every flag, for a tokenizer.json derived from Qwen3's: its added tokens
    are replaced by these (ids after the vocabulary)."""
    base = 151643
    flags = [("<|im_start|>", dict(special=True)),
             ("<|im_end|>", dict(special=True, lstrip=True, rstrip=True)),
             ("[WORD]", dict(special=False, single_word=True)),
             ("<L>", dict(special=True, lstrip=True)),
             ("<R>", dict(special=True, rstrip=True)),
             ("café", dict(special=False, normalized=True)),
             ("Å", dict(special=False, normalized=True)),
             ("<im", dict(special=False)),
             ("word", dict(special=False, single_word=True, lstrip=True)),
             ("é", dict(special=False, normalized=False))]
    tokens = []
    for i, (content, extra) in enumerate(flags):
        token = dict(id=base + i, content=content, single_word=False, lstrip=False, rstrip=False,
                     normalized=False, special=False)
        token.update(extra)
        tokens.append(token)
    return tokens


def added_token_texts():
    """Strings that exercise added_token_variant()."""
    return ["<|im_start|>user\nHi<|im_end|>\n", "a  <|im_end|>  b", "x\t<L>\ty", "x <R>  y",
            "[WORD] x[WORD] [WORD]y ([WORD]) _[WORD]_ é[WORD]", "cafe\u0301 café CAFÉ", "A\u030a Å",
            "<im_start|> <im", "word words sword  word  a word.", "é e\u0301 ée\u0301",
            "<L><L>  <R><R>  <L> <R> <|im_end|> <|im_end|>", "   <L>", "<R>   ", "",
            "a<|im_end|><|im_end|>b", "wordword word\u00a0word\u3000word"]


def chat_cases():
    """Chat-template inputs: messages and the two switches."""
    conversations = [
        [{"role": "user", "content": "Hello!"}],
        [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi"}],
        [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"},
         {"role": "user", "content": "And 3+3?"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q1"},
         {"role": "assistant", "content": "<think>\nreasoning one\n</think>\n\nA1"},
         {"role": "user", "content": "Q2"},
         {"role": "assistant", "content": "<think>\n\nmore thought\n\n</think>\n\nA2"}],
        [{"role": "user", "content": "Q"},
         {"role": "assistant", "content": "pre<think>x</think>y</think>\n\nfinal"}],
        [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "plain answer"}],
        [{"role": "user", "content": "call a tool"},
         {"role": "assistant", "content": "<think>t</think>calling"},
         {"role": "tool", "content": "result 1"}, {"role": "tool", "content": "result 2"},
         {"role": "assistant", "content": "<think>after tools</think>done"}],
        [{"role": "user", "content": "<tool_response>x</tool_response>"},
         {"role": "assistant", "content": "<think>r</think>a"}],
        [{"role": "system", "content": "S"}, {"role": "system", "content": "second system"},
         {"role": "user", "content": "u"}],
        [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
        [{"role": "user", "content": "多语言 🙂\n\n  spaces  "},
         {"role": "assistant", "content": "\n\nanswer with newlines\n"}],
    ]
    cases = []
    for messages in conversations:
        for generation_prompt in (True, False):
            for thinking in (True, False):
                cases.append(dict(messages=messages, add_generation_prompt=generation_prompt,
                                  enable_thinking=thinking))
    return cases


@functools.lru_cache(maxsize=4)
def _compiled_template(template):
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def render_chat(template, case):
    """The chat template rendered by jinja2 the way Hugging Face transformers sets it up."""
    return _compiled_template(template).render(
        messages=case["messages"], tools=None, add_generation_prompt=case["add_generation_prompt"],
        enable_thinking=case["enable_thinking"])


def variant_json(tokenizer_json):
    """tokenizer.json text with added_token_variant() as its added tokens."""
    begin = tokenizer_json.index('"added_tokens"')
    end = tokenizer_json.index('"normalizer"', begin)
    return (tokenizer_json[:begin] + '"added_tokens": ' +
            json.dumps(added_token_variant(), ensure_ascii=False) + ",\n" + tokenizer_json[end:])


def _case(tokenizer, text, ids):
    case = {"text": text, "ids": ids}
    decoded = tokenizer.decode(ids, skip_special_tokens=False)
    if decoded != text:  # normalised text decodes to its normal form
        case["decoded"] = decoded
    return case


def main():
    from tokenizers import Tokenizer
    import tokenizers

    tokenizer = Tokenizer.from_file(str(TOKENIZER_DIR / "tokenizer.json"))
    texts = corpus()
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    variant = Tokenizer.from_str(variant_json((TOKENIZER_DIR / "tokenizer.json").read_text()))
    template = json.loads((TOKENIZER_DIR / "tokenizer_config.json").read_text())["chat_template"]
    fixture = {
        "generator": "tests/llm/tokenizer_corpus.py with tokenizers " + tokenizers.__version__,
        "cases": [_case(tokenizer, t, e.ids) for t, e in zip(texts, encodings)],
        "added_tokens": added_token_variant(),
        "added_token_cases": [{"text": t, "ids": variant.encode(t).ids}
                              for t in added_token_texts()],
        "chat_cases": [dict(case, text=render_chat(template, case)) for case in chat_cases()],
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    with open(FIXTURE, "w", encoding="utf-8") as out:
        json.dump(fixture, out, ensure_ascii=False, separators=(",", ":"))
        out.write("\n")
    print(f"{FIXTURE}: {len(texts)} strings, {sum(len(e.ids) for e in encodings)} ids, "
          f"{FIXTURE.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
