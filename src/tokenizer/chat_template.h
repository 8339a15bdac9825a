// Chat templates as code (no Jinja): each known name wraps one math problem into the prompt text
// the model family expects. The ChatML forms reproduce Qwen2.5's tokenizer_config.json
// chat_template with add_generation_prompt=True for a single user turn.
#pragma once

#include <string>
#include <vector>

namespace popo {

// Returns problem wrapped by the named template:
//   "chatml"     Qwen instruct: system "You are a helpful assistant.", the user turn, then
//                "<|im_start|>assistant\n";
//   "qwen-boxed" Qwen2.5-Math CoT: ChatML with system "Please reason step by step, and put your
//                final answer within \boxed{}.";
//   "plain"      "Question: <problem>\nAnswer:";
//   "raw"        the problem as is.
// Throws popo::Error listing the known names for any other name.
std::string apply_chat_template(const std::string& name, const std::string& problem);

// Returns the known template names.
std::vector<std::string> chat_template_names();

}  // namespace popo
