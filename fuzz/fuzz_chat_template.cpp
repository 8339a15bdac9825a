// The chat templates: a conversation made of the input (parts split at \x01; each part's first
// byte picks its role) rendered by every template, with and without the generation prompt.
// A conversation a template accepts shows every message's content in the prompt (qwen3 may move
// an assistant turn's reasoning into <think>, so its assistant turns are not checked).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "tokenizer/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  std::vector<popo::ChatMessage> msgs;
  static const char* kRoles[] = {"system", "user", "assistant", "tool"};
  size_t pos = 0;
  while (pos <= s.size() && msgs.size() < 16) {
    size_t end = s.find('\x01', pos);
    if (end == std::string::npos) end = s.size();
    if (end > pos) msgs.push_back({kRoles[static_cast<uint8_t>(s[pos]) % 4], s.substr(pos + 1, end - pos - 1)});
    pos = end + 1;
  }
  for (const std::string& name : popo::chat_template_names()) {
    for (bool gen : {false, true}) {
      popo::fuzz::only_popo_errors("render_chat", [&] {
        const std::string out = popo::render_chat(name, msgs, gen);
        for (const auto& m : msgs) {
          if (name == "qwen3" && m.role == "assistant") continue;
          FUZZ_CHECK(out.find(m.content) != std::string::npos, name, ": the ", m.role, " content is missing");
        }
      });
    }
    popo::fuzz::only_popo_errors("apply_chat_template", [&] {
      const std::string problem = msgs.empty() ? s : msgs[0].content;
      FUZZ_CHECK(popo::apply_chat_template(name, problem).find(problem) != std::string::npos, name,
                 ": the problem is missing from its prompt");
    });
  }
  return 0;
}
