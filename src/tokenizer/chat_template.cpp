// Chat templates as code. See chat_template.h.
#include "tokenizer/chat_template.h"

#include "core/error.h"

namespace popo {

namespace {
std::string chatml(const std::string& system, const std::string& user) {
  return "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n" + user +
         "<|im_end|>\n<|im_start|>assistant\n";
}
}  // namespace

std::vector<std::string> chat_template_names() {
  return {"chatml", "qwen-boxed", "plain", "raw"};
}

std::string apply_chat_template(const std::string& name, const std::string& problem) {
  if (name == "chatml") return chatml("You are a helpful assistant.", problem);
  if (name == "qwen-boxed") {
    return chatml("Please reason step by step, and put your final answer within \\boxed{}.",
                  problem);
  }
  if (name == "plain") return "Question: " + problem + "\nAnswer:";
  if (name == "raw") return problem;
  std::string known;
  for (const auto& n : chat_template_names()) known += (known.empty() ? "" : ", ") + n;
  POPO_FAIL("chat template '", name, "' is unknown; expected one of: ", known);
}

}  // namespace popo
