"""yr.Tokenizer and yr.apply_chat_template: ids identical to Hugging Face `tokenizers` on the
conformance corpus (live when `tokenizers` is installed, and against the committed fixture), the
chat template identical to jinja2's rendering, decoding, streaming and errors."""

import importlib.util
import json
import pathlib

import pytest

import yirage as yr

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKENIZER_DIR = ROOT / "models" / "qwen3-tokenizer"
FIXTURE = ROOT / "tests" / "fixtures" / "llm" / "qwen3_tokenizer_corpus.json"


def _corpus_module():
    spec = importlib.util.spec_from_file_location("tokenizer_corpus",
                                                  ROOT / "tests" / "llm" / "tokenizer_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tok():
    return yr.Tokenizer.from_file(str(TOKENIZER_DIR))


@pytest.fixture(scope="module")
def fixture():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_fixture_is_the_corpus(fixture):
    texts = _corpus_module().corpus()
    assert len(texts) >= 1000
    assert [case["text"] for case in fixture["cases"]] == texts


def test_matches_fixture(tok, fixture):
    cases = fixture["cases"]
    got = tok.encode_batch([case["text"] for case in cases])
    mismatches = [case["text"] for case, ids in zip(cases, got) if ids != case["ids"]]
    assert not mismatches, mismatches[:5]


def test_matches_tokenizers_live(tok):
    tokenizers = pytest.importorskip("tokenizers", reason="Hugging Face tokenizers not installed")
    reference = tokenizers.Tokenizer.from_file(str(TOKENIZER_DIR / "tokenizer.json"))
    texts = _corpus_module().corpus()
    expected = [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
    got = tok.encode_batch(texts)
    mismatches = [t for t, a, b in zip(texts, got, expected) if a != b]
    assert not mismatches, mismatches[:5]
    for text, ids in zip(texts[::7], expected[::7]):
        assert tok.decode(ids) == reference.decode(ids, skip_special_tokens=False)
        assert tok.decode(ids, skip_special_tokens=True) == reference.decode(ids)


def test_added_token_flags_live(tmp_path):
    tokenizers = pytest.importorskip("tokenizers", reason="Hugging Face tokenizers not installed")
    corpus = _corpus_module()
    document = corpus.variant_json((TOKENIZER_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    path = tmp_path / "tokenizer.json"
    path.write_text(document, encoding="utf-8")
    reference = tokenizers.Tokenizer.from_str(document)
    ours = yr.Tokenizer.from_file(str(path))
    for text in corpus.added_token_texts():
        assert ours.encode(text) == reference.encode(text).ids, text


def test_chat_template_matches_jinja(tok):
    pytest.importorskip("jinja2", reason="jinja2 not installed")
    corpus = _corpus_module()
    for case in corpus.chat_cases():
        expected = corpus.render_chat(tok.chat_template, case)
        assert yr.apply_chat_template(case["messages"], case["add_generation_prompt"],
                                      case["enable_thinking"]) == expected


def test_chat_template_fixture(fixture):
    for case in fixture["chat_cases"]:
        assert yr.apply_chat_template(case["messages"],
                                      add_generation_prompt=case["add_generation_prompt"],
                                      enable_thinking=case["enable_thinking"]) == case["text"]


def test_chat_template_switches():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]
    prompt = "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    assert yr.apply_chat_template(messages, add_generation_prompt=False) == prompt
    assert yr.apply_chat_template(messages) == prompt + "<|im_start|>assistant\n"
    assert yr.apply_chat_template(messages, enable_thinking=False) == (
        prompt + "<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_vocabulary(tok):
    assert tok.vocab_size == 151669 == len(tok)
    assert tok.token_to_id("<|im_end|>") == 151645
    assert tok.token_to_id("not a token") is None
    assert tok.id_to_token(1879) == "Ġworld"
    assert tok.is_special(151645) and not tok.is_special(151667)
    assert "Tokenizer(" in repr(tok)


def test_encode_decode(tok):
    assert tok.encode("Hello, world!") == [9707, 11, 1879, 0]
    assert tok.encode("Hello", add_special_tokens=True) == tok.encode("Hello")
    ids = tok.encode("<|im_start|>user\nHi<|im_end|>")
    assert ids == [151644, 872, 198, 13048, 151645]
    assert tok.decode(ids) == "<|im_start|>user\nHi<|im_end|>"
    assert tok.decode(ids, skip_special_tokens=True) == "user\nHi"
    assert tok.decode(tok.encode("𪚥")[:1]) == "\ufffd"
    # NFD input comes back composed (NFC), as with Hugging Face tokenizers.
    assert tok.decode(tok.encode("cafe\u0301")) == "caf\u00e9"


def test_stream_decoder(tok):
    text = "Stream 🫶🏽 𪚥 and 你好 <|im_end|>"
    ids = tok.encode(text)
    stream = tok.stream_decoder()
    pieces = [stream.push(i) for i in ids]
    assert all("\ufffd" not in piece for piece in pieces)
    assert "".join(pieces) + stream.flush() == text
    assert "" in pieces  # some ids carried only part of a character


def test_errors(tok, tmp_path):
    with pytest.raises(yr.UserError, match="does not exist"):
        yr.Tokenizer.from_file(str(tmp_path / "missing.json"))
    with pytest.raises(yr.UserError, match="has no tokenizer.json"):
        yr.Tokenizer.from_file(str(tmp_path))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(yr.UserError, match="is not valid JSON"):
        yr.Tokenizer.from_file(str(tmp_path / "bad.json"))
    (tmp_path / "wp.json").write_text('{"model": {"type": "WordPiece", "vocab": {}}}')
    with pytest.raises(yr.UserError, match="'WordPiece', which is not supported; expected BPE"):
        yr.Tokenizer.from_file(str(tmp_path / "wp.json"))
    with pytest.raises(yr.UserError, match=r"token id 999999 is out of range"):
        tok.decode([1, 999999])
    with pytest.raises(yr.UserError, match="role 'robot'"):
        yr.apply_chat_template([{"role": "robot", "content": "x"}])
    with pytest.raises(yr.UserError, match="has no 'content'"):
        yr.apply_chat_template([{"role": "user"}])
    with pytest.raises(yr.UserError, match="'content' is a int; expected a string"):
        yr.apply_chat_template([{"role": "user", "content": 3}])
    with pytest.raises(yr.UserError, match="expected a list of dicts"):
        yr.apply_chat_template("hello")
    with pytest.raises(yr.UserError, match="at least one message"):
        yr.apply_chat_template([])


def _yirage_command():
    import shutil

    built = pathlib.Path(yr.__file__).resolve().parents[2] / "src" / "cli" / "yirage"
    if built.is_file():
        return str(built)
    return shutil.which("yirage")


def test_tokenize_command(tok, tmp_path):
    import subprocess

    command = _yirage_command()
    if command is None:
        pytest.skip("the yirage command is neither built next to the module nor on PATH")

    def run(*args, stdin=None):
        return subprocess.run([command, "tokenize", *args], input=stdin, capture_output=True,
                              text=True, encoding="utf-8")

    result = run(str(TOKENIZER_DIR), "Hello, world!")
    assert result.returncode == 0 and result.stdout == "9707 11 1879 0\n"
    result = run(str(TOKENIZER_DIR / "tokenizer.json"), "Hello, world!", "--json")
    assert json.loads(result.stdout) == {"ids": [9707, 11, 1879, 0], "count": 4,
                                         "tokens": ["Hello", ",", "Ġworld", "!"]}
    result = run(str(TOKENIZER_DIR), "-", "--chat", stdin="hi")
    chat = yr.apply_chat_template([{"role": "user", "content": "hi"}])
    assert result.stdout.split() == [str(i) for i in tok.encode(chat)]
    result = run(str(TOKENIZER_DIR), "9707, 11, 1879", "--decode")
    assert result.stdout == "Hello, world\n"
    result = run(str(tmp_path / "missing"), "x")
    assert result.returncode == 1 and "does not exist" in result.stderr
    result = run(str(TOKENIZER_DIR), "12 x", "--decode")
    assert result.returncode == 1 and "'x' is not a token id" in result.stderr
