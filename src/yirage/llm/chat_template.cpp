// apply_chat_template: the output of Qwen3's chat template (tokenizer_config.json) for system,
// user, assistant and tool turns without tool definitions, written out step by step as the
// template's branches run.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::llm {

namespace {

std::string_view lstrip_newlines(std::string_view text) {
  while (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return text;
}

std::string_view rstrip_newlines(std::string_view text) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

// Python's text.split(separator)[-1]: what follows the last separator (all of it when none).
std::string_view after_last(std::string_view text, std::string_view separator) {
  const std::size_t at = text.rfind(separator);
  return at == std::string_view::npos ? text : text.substr(at + separator.size());
}

// Python's text.split(separator)[0]: what precedes the first separator (all of it when none).
std::string_view before_first(std::string_view text, std::string_view separator) {
  const std::size_t at = text.find(separator);
  return at == std::string_view::npos ? text : text.substr(0, at);
}

bool is_tool_response(std::string_view content) {
  constexpr std::string_view open = "<tool_response>", close = "</tool_response>";
  return content.substr(0, open.size()) == open && content.size() >= close.size() &&
         content.substr(content.size() - close.size()) == close;
}

}  // namespace

std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, bool enable_thinking) {
  YR_USER_CHECK(!messages.empty(), "a chat needs at least one message; got none");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    YR_USER_CHECK(role == "system" || role == "user" || role == "assistant" || role == "tool",
                  "message " << i << " has the role '" << role
                             << "'; expected system, user, assistant or tool");
  }
  std::string out;
  if (messages[0].role == "system") {
    out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
  }
  // The last user turn that is a query (not a tool response); assistant turns after it show
  // their reasoning.
  std::size_t last_query = messages.size() - 1;
  for (std::size_t i = messages.size(); i-- > 0;) {
    if (messages[i].role == "user" && !is_tool_response(messages[i].content)) {
      last_query = i;
      break;
    }
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    const bool first = i == 0, last = i + 1 == messages.size();
    if (message.role == "user" || (message.role == "system" && !first)) {
      out += "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n";
    } else if (message.role == "assistant") {
      std::string_view content = message.content;
      std::string_view reasoning;
      if (content.find("</think>") != std::string_view::npos) {
        content = lstrip_newlines(after_last(message.content, "</think>"));
        reasoning = lstrip_newlines(
            after_last(rstrip_newlines(before_first(message.content, "</think>")), "<think>"));
      }
      out += "<|im_start|>assistant\n";
      if (i > last_query && (last || !reasoning.empty())) {
        out += "<think>\n";
        out += lstrip_newlines(rstrip_newlines(reasoning));
        out += "\n</think>\n\n";
        out += lstrip_newlines(content);
      } else {
        out += content;
      }
      out += "<|im_end|>\n";
    } else if (message.role == "tool") {
      if (first || messages[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + message.content + "\n</tool_response>";
      if (last || messages[i + 1].role != "tool") out += "<|im_end|>\n";
    }
  }
  if (add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (!enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

}  // namespace yirage::llm
