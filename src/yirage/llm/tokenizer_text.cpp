// UTF-8 checking and repair, normalisation through utf8proc, White_Space and \w classes.
#include "yirage/llm/tokenizer_text.h"

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "yirage/core/error.h"

namespace yirage::llm::text {

namespace {

// One step of a UTF-8 scan at `pos`: `length` bytes belong to the sequence found there (at
// least 1); `valid` when they form a whole well-formed sequence; `truncated` when they are a
// well-formed start cut off by the end of the input.
struct Utf8Step {
  std::size_t length;
  bool valid;
  bool truncated;
};

Utf8Step utf8_step(std::string_view bytes, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(bytes[pos]);
  if (lead < 0x80) return {1, true, false};
  std::size_t needed = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false, false};
  }
  for (std::size_t i = 1; i < needed; ++i) {
    if (pos + i >= bytes.size()) return {i, false, true};
    const auto byte = static_cast<unsigned char>(bytes[pos + i]);
    const bool ok = i == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF);
    if (!ok) return {i, false, false};
  }
  return {needed, true, false};
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

std::optional<std::size_t> find_invalid_utf8(std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (static_cast<unsigned char>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Step step = utf8_step(bytes, pos);
    if (!step.valid) return pos;
    pos += step.length;
  }
  return std::nullopt;
}

std::size_t append_repaired_utf8(std::string_view bytes, std::string& out, bool hold_incomplete) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t run = pos;  // copy runs of ASCII and valid sequences in one go
    while (run < bytes.size()) {
      if (static_cast<unsigned char>(bytes[run]) < 0x80) {
        ++run;
        continue;
      }
      const Utf8Step step = utf8_step(bytes, run);
      if (!step.valid) break;
      run += step.length;
    }
    out.append(bytes.substr(pos, run - pos));
    pos = run;
    if (pos == bytes.size()) break;
    const Utf8Step step = utf8_step(bytes, pos);
    if (step.truncated && hold_incomplete) return pos;
    out.append(kReplacement);
    pos += step.length;
  }
  return pos;
}

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_repaired_utf8(bytes, out);
  return out;
}

char32_t next_code_point(std::string_view bytes, std::size_t& pos) {
  const auto lead = static_cast<unsigned char>(bytes[pos]);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  const std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  char32_t cp = lead & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) {
    cp = (cp << 6) | (static_cast<unsigned char>(bytes[pos + i]) & 0x3F);
  }
  pos += length;
  return cp;
}

char32_t previous_code_point(std::string_view bytes, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(bytes[start]) & 0xC0) == 0x80) --start;
  return next_code_point(bytes, start);
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_white_space(char32_t cp) {
  // The White_Space property (PropList.txt); a short, stable list.
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_word_char(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  if (cp == 0x200C || cp == 0x200D) return true;  // Join_Control
  // Other_Alphabetic symbols: circled and squared Latin letters.
  if ((cp >= 0x24B6 && cp <= 0x24E9) || (cp >= 0x1F130 && cp <= 0x1F149) ||
      (cp >= 0x1F150 && cp <= 0x1F169) || (cp >= 0x1F170 && cp <= 0x1F189)) {
    return true;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

namespace {

// True when `cp` is left alone by NFC whatever surrounds it: a starter (combining class 0) with
// no canonical decomposition that never composes with what precedes it. Hangul jamo compose
// algorithmically, so they never count.
bool nfc_inert(char32_t cp) {
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xA960 && cp <= 0xA97F) ||
      (cp >= 0xD7B0 && cp <= 0xD7FF)) {
    return false;
  }
  const utf8proc_property_t* property = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  if (property->combining_class != 0) return false;
  if (property->decomp_seqindex != UINT16_MAX && property->decomp_type == 0) return false;
  return property->comb_index == UINT16_MAX || property->comb_index < 0x8000;
}

// True when NFC leaves `input` as it is, decided without normalising it: text below U+0300
// (every byte below 0xCC) holds no combining marks and nothing that composes, and the other
// characters are checked one by one.
bool nfc_quick_check(std::string_view input) {
  std::size_t pos = 0;
  while (pos < input.size()) {
    if (static_cast<unsigned char>(input[pos]) < 0xCC) {
      ++pos;
      continue;
    }
    if (!nfc_inert(next_code_point(input, pos))) return false;
  }
  return true;
}

}  // namespace

bool normalize(std::string_view input, NormalForm form, std::string& output) {
  if (form == NormalForm::NFC) {
    if (nfc_quick_check(input)) return false;
  } else {
    bool ascii = true;  // ASCII is left alone by every form
    for (char c : input) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return false;
  }
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::NFC:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalForm::NFD:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalForm::NFKC:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalForm::NFKD:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(input.data()),
                   static_cast<utf8proc_ssize_t>(input.size()), &result,
                   static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(result, &std::free);
  YR_INTERNAL_CHECK(length >= 0,
                    "utf8proc could not normalise checked UTF-8: " << utf8proc_errmsg(length));
  output.assign(reinterpret_cast<const char*>(result), static_cast<std::size_t>(length));
  return true;
}

}  // namespace yirage::llm::text
