// Text helpers of the tokenizer (internal): UTF-8 checking and repair, Unicode normalisation
// through utf8proc, and the character classes that added-token matching needs.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace yirage::llm::text {

/// The Unicode normalisation forms a tokenizer.json normalizer may ask for.
enum class NormalForm { NFC, NFD, NFKC, NFKD };

/// Byte offset of the first byte of `bytes` that is not part of well-formed UTF-8, if any.
std::optional<std::size_t> find_invalid_utf8(std::string_view bytes);

/// Appends `bytes` to `out` with every maximal ill-formed subsequence replaced by U+FFFD (the
/// Unicode "maximal subpart" practice). With `hold_incomplete`, a well-formed but unfinished
/// sequence at the very end is left out; the return value is the number of bytes consumed.
std::size_t append_repaired_utf8(std::string_view bytes, std::string& out,
                                 bool hold_incomplete = false);

/// `bytes` as valid UTF-8, ill-formed subsequences replaced by U+FFFD.
std::string repair_utf8(std::string_view bytes);

/// Decodes the code point of well-formed UTF-8 at `bytes[pos]` and advances `pos` past it.
char32_t next_code_point(std::string_view bytes, std::size_t& pos);

/// Decodes the code point of well-formed UTF-8 that ends at `bytes[end - 1]`.
char32_t previous_code_point(std::string_view bytes, std::size_t end);

/// Appends the UTF-8 form of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

/// True for characters with the Unicode White_Space property.
bool is_white_space(char32_t cp);

/// True for word characters as Unicode regular expressions define \w: alphabetic, marks,
/// decimal digits, connector punctuation and the joiners.
bool is_word_char(char32_t cp);

/// `input` (valid UTF-8) in normal form `form`. Returns false and leaves `output` alone when the
/// text is already normalised by a quick check, so callers can keep using `input`.
bool normalize(std::string_view input, NormalForm form, std::string& output);

}  // namespace yirage::llm::text
