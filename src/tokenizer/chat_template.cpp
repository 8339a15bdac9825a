// Chat templates as code. See chat_template.h.
#include "tokenizer/chat_template.h"

#include "core/error.h"

namespace popo {

namespace {

std::string turn(const std::string& role, const std::string& content) {
  return "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
}

// Qwen2 / Qwen2.5 ChatML: a default system turn when the conversation opens without one.
std::string chatml(const std::string& default_system, const std::vector<ChatMessage>& messages,
                   bool add_generation_prompt) {
  std::string out;
  if (messages.empty() || messages[0].role != "system") out += turn("system", default_system);
  for (const auto& m : messages) out += turn(m.role, m.content);
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Python's str.strip(chars) family for one character.
std::string lstrip(const std::string& s, char c) {
  const size_t b = s.find_first_not_of(c);
  return b == std::string::npos ? std::string() : s.substr(b);
}
std::string rstrip(std::string s, char c) {
  const size_t e = s.find_last_not_of(c);
  return e == std::string::npos ? std::string() : s.substr(0, e + 1);
}

// Qwen3: the reasoning of assistant turns after the last user query is shown in <think> tags.
std::string qwen3(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  const size_t n = messages.size();
  if (n > 0 && messages[0].role == "system") out += turn("system", messages[0].content);
  size_t last_query = n == 0 ? 0 : n - 1;
  for (size_t k = n; k-- > 0;) {
    const std::string& c = messages[k].content;
    const bool tool_response = c.rfind("<tool_response>", 0) == 0 && c.size() >= 16 &&
                               c.compare(c.size() - 16, 16, "</tool_response>") == 0;
    if (messages[k].role == "user" && !tool_response) {
      last_query = k;
      break;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const auto& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i > 0)) {
      out += turn(m.role, m.content);
    } else if (m.role == "assistant") {
      std::string content = m.content, reasoning;
      const size_t close = content.rfind("</think>");
      if (close != std::string::npos) {
        // content.split('</think>')[-1].lstrip('\n'); [0].rstrip('\n').split('<think>')[-1].lstrip('\n')
        const std::string before = content.substr(0, content.find("</think>"));
        content = lstrip(content.substr(close + 8), '\n');
        std::string r = rstrip(before, '\n');
        const size_t open = r.rfind("<think>");
        reasoning = lstrip(open == std::string::npos ? r : r.substr(open + 7), '\n');
      }
      const bool last = i + 1 == n;
      if (i > last_query && (last || !reasoning.empty())) {
        out += "<|im_start|>assistant\n<think>\n" + rstrip(lstrip(reasoning, '\n'), '\n') +
               "\n</think>\n\n" + lstrip(content, '\n');
      } else {
        out += "<|im_start|>assistant\n" + content;
      }
      out += "<|im_end|>\n";
    }
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

const ChatMessage& single_user(const std::string& name, const std::vector<ChatMessage>& messages) {
  POPO_CHECK(!messages.empty() && messages[0].role == "user" && messages.size() <= 2 &&
                 (messages.size() == 1 || messages[1].role == "assistant"),
             "chat template '", name, "' renders one user message (optionally followed by the assistant's); got ",
             messages.size(), " messages");
  return messages[0];
}

}  // namespace

std::vector<std::string> chat_template_names() {
  return {"chatml", "qwen-boxed", "qwen3", "plain", "raw"};
}

std::vector<std::string> template_stop_strings(const std::string& name) {
  if (name == "plain") return {"\n\nQuestion:"};
  return {};
}

std::string render_chat(const std::string& name, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt) {
  for (const auto& m : messages) {
    POPO_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant", "chat message role '",
               m.role, "' is unknown; expected system, user or assistant");
  }
  if (name == "chatml") return chatml("You are a helpful assistant.", messages, add_generation_prompt);
  if (name == "qwen-boxed") {
    return chatml("Please reason step by step, and put your final answer within \\boxed{}.", messages,
                  add_generation_prompt);
  }
  if (name == "qwen3") return qwen3(messages, add_generation_prompt);
  if (name == "plain") {
    const ChatMessage& u = single_user(name, messages);
    std::string out = "Question: " + u.content + "\nAnswer:";
    if (messages.size() == 2) out += " " + messages[1].content;
    return out;
  }
  if (name == "raw") {
    const ChatMessage& u = single_user(name, messages);
    return messages.size() == 2 ? u.content + messages[1].content : u.content;
  }
  std::string known;
  for (const auto& n : chat_template_names()) known += (known.empty() ? "" : ", ") + n;
  POPO_FAIL("chat template '", name, "' is unknown; expected one of: ", known);
}

std::string apply_chat_template(const std::string& name, const std::string& problem) {
  return render_chat(name, {{"user", problem}}, /*add_generation_prompt=*/true);
}

}  // namespace popo
