// Python bindings of llm/tokenizer.h: the tokenizer (encode, decode, vocabulary), its stream
// decoder, and the Qwen3 chat template.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "yirage/core/error.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::python {

namespace {

using namespace nb::literals;

// The Python Tokenizer: a shared handle on the loaded tokenizer.
struct PyTokenizer {
  std::shared_ptr<const llm::Tokenizer> tokenizer;
  std::string path;
};

PyTokenizer load(const std::string& path) {
  nb::gil_scoped_release release;
  return PyTokenizer{llm::Tokenizer::from_file(path), path};
}

std::vector<int64_t> encode(const PyTokenizer& self, const std::string& text,
                            bool add_special_tokens) {
  nb::gil_scoped_release release;
  return self.tokenizer->encode(text, add_special_tokens);
}

std::vector<std::vector<int64_t>> encode_batch(const PyTokenizer& self,
                                               const std::vector<std::string>& texts,
                                               bool add_special_tokens) {
  nb::gil_scoped_release release;
  std::vector<std::vector<int64_t>> ids;
  ids.reserve(texts.size());
  for (const std::string& text : texts)
    ids.push_back(self.tokenizer->encode(text, add_special_tokens));
  return ids;
}

std::string decode(const PyTokenizer& self, const std::vector<int64_t>& ids,
                   bool skip_special_tokens) {
  nb::gil_scoped_release release;
  return self.tokenizer->decode(ids, skip_special_tokens);
}

std::string repr(const PyTokenizer& self) {
  std::ostringstream text;
  text << "Tokenizer('" << self.path << "', vocab_size=" << self.tokenizer->vocab_size() << ")";
  return text.str();
}

// A chat message from Python: a mapping with 'role' and 'content' strings.
llm::ChatMessage to_message(nb::handle item, std::size_t index) {
  const auto field = [&](const char* key) {
    nb::object value;
    try {
      value = item[key];
    } catch (const nb::python_error&) {
      YR_USER_ERROR("message " << index << " has no '" << key
                               << "'; expected a dict with 'role' and 'content' strings");
    }
    YR_USER_CHECK(nb::isinstance<nb::str>(value),
                  "message " << index << "'s '" << key << "' is a "
                             << nb::cast<std::string>(nb::type_name(value.type()))
                             << "; expected a string");
    return nb::cast<std::string>(value);
  };
  YR_USER_CHECK(!nb::isinstance<nb::str>(item) && nb::hasattr(item, "__getitem__"),
                "message " << index << " is a " << nb::cast<std::string>(nb::type_name(item.type()))
                           << "; expected a dict with 'role' and 'content' strings");
  return llm::ChatMessage{field("role"), field("content")};
}

std::string chat_template(nb::handle messages, bool add_generation_prompt, bool enable_thinking) {
  YR_USER_CHECK(!nb::isinstance<nb::str>(messages) && nb::hasattr(messages, "__iter__"),
                "messages is a " << nb::cast<std::string>(nb::type_name(messages.type()))
                                 << "; expected a list of dicts with 'role' and 'content'");
  std::vector<llm::ChatMessage> converted;
  for (nb::handle item : messages) converted.push_back(to_message(item, converted.size()));
  return llm::apply_chat_template(converted, add_generation_prompt, enable_thinking);
}

}  // namespace

void bind_llm_tokenizer(nb::module_& m) {
  nb::class_<llm::StreamDecoder>(m, "StreamDecoder",
                                 "Turns streamed token ids into text, holding back the bytes of a "
                                 "character until the ids that complete it arrive.")
      .def("push", &llm::StreamDecoder::push, "id"_a,
           "push(id) -> str: the new complete text that `id` adds (possibly empty).")
      .def("flush", &llm::StreamDecoder::flush,
           "flush() -> str: what is still held back, an unfinished character as U+FFFD.");

  nb::class_<PyTokenizer>(m, "Tokenizer",
                          "A byte-level BPE tokenizer read from a Hugging Face tokenizer.json; "
                          "its ids are those of Hugging Face `tokenizers`.")
      .def_static("from_file", &load, "path"_a,
                  "Tokenizer.from_file(path): loads a tokenizer.json, or the one in model "
                  "directory `path` (with the chat template of tokenizer_config.json beside "
                  "it). Raises UserError when it is missing or not a supported tokenizer.")
      .def("encode", &encode, "text"_a, "add_special_tokens"_a = false,
           "encode(text, add_special_tokens=False) -> list[int]: the token ids of `text`; "
           "special tokens written in the text (<|im_start|>) become their ids.")
      .def("encode_batch", &encode_batch, "texts"_a, "add_special_tokens"_a = false,
           "encode_batch(texts, add_special_tokens=False) -> list[list[int]]: encode() of each.")
      .def("decode", &decode, "ids"_a, "skip_special_tokens"_a = false,
           "decode(ids, skip_special_tokens=False) -> str: the text of `ids`; bytes that do not "
           "form valid UTF-8 become U+FFFD. Raises UserError for an id outside the vocabulary.")
      .def_prop_ro(
          "vocab_size", [](const PyTokenizer& self) { return self.tokenizer->vocab_size(); },
          "Number of ids: the vocabulary and the added tokens.")
      .def(
          "token_to_id",
          [](const PyTokenizer& self, const std::string& token) {
            return self.tokenizer->token_to_id(token);
          },
          "token"_a, "token_to_id(token) -> int | None: the id of a token string.")
      .def(
          "id_to_token",
          [](const PyTokenizer& self, int64_t id) { return self.tokenizer->id_to_token(id); },
          "id"_a,
          "id_to_token(id) -> str: the token string of `id` (byte-level form for regular "
          "tokens, e.g. 'Ġworld').")
      .def(
          "is_special",
          [](const PyTokenizer& self, int64_t id) { return self.tokenizer->is_special(id); },
          "id"_a, "is_special(id) -> bool: True for special tokens such as <|im_end|>.")
      .def_prop_ro(
          "chat_template", [](const PyTokenizer& self) { return self.tokenizer->chat_template(); },
          "The chat template of tokenizer_config.json ('' when there is none).")
      .def(
          "stream_decoder",
          [](const PyTokenizer& self, bool skip_special_tokens) {
            return llm::StreamDecoder(self.tokenizer, skip_special_tokens);
          },
          "skip_special_tokens"_a = false,
          "stream_decoder(skip_special_tokens=False) -> StreamDecoder for streamed ids.")
      .def("__len__", [](const PyTokenizer& self) { return self.tokenizer->vocab_size(); })
      .def("__repr__", &repr);

  m.def("apply_chat_template", &chat_template, "messages"_a, "add_generation_prompt"_a = true,
        "enable_thinking"_a = true,
        "apply_chat_template(messages, add_generation_prompt=True, enable_thinking=True) -> str: "
        "`messages` (dicts with 'role' and 'content'; roles system, user, assistant, tool) as "
        "Qwen3's chat template renders them; add_generation_prompt opens the assistant turn, "
        "and enable_thinking=False starts it with an empty <think></think> block.");
}

}  // namespace yirage::python
