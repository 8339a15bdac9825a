// Chat templates as code (no Jinja): each known name renders a conversation into the prompt text
// the model family expects, as Hugging Face's apply_chat_template does with that family's
// tokenizer_config.json chat_template (tools are not supported). tests/oracle/test_chat_template.py
// checks the renderings against apply_chat_template itself.
#pragma once

#include <string>
#include <vector>

namespace popo {

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant"
  std::string content;
};

// Renders messages with the named template; add_generation_prompt appends the opening of the
// assistant's turn. The templates:
//   "chatml"     Qwen2-Instruct ChatML: every message as "<|im_start|>ROLE\nCONTENT<|im_end|>\n",
//                with the system turn "You are a helpful assistant." when the conversation does
//                not open with one; the generation prompt is "<|im_start|>assistant\n";
//   "qwen-boxed" Qwen2.5-Math CoT: ChatML with the default system turn "Please reason step by
//                step, and put your final answer within \boxed{}.";
//   "qwen3"      Qwen3's template (the thinking form): no default system turn; an assistant turn
//                after the last user turn carries its reasoning as "<think>\n...\n</think>\n\n"
//                (split off the content at the last "</think>", empty when there is none);
//   "plain"      "Question: <user>\nAnswer:" (one user message, optionally an assistant answer);
//   "raw"        the user message as is (one user message).
// Throws popo::Error for an unknown template (listing the known names), an unknown role, or a
// conversation the template cannot render.
std::string render_chat(const std::string& name, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt);

// One math problem as the user turn, with the generation prompt: the prompt the trainer and
// the evaluator send.
std::string apply_chat_template(const std::string& name, const std::string& problem);

// Returns the known template names.
std::vector<std::string> chat_template_names();

// Returns the stop strings a template's prompts need beyond the EOS tokens, for the rollouts and
// the evaluation alike: "plain" stops at "\n\nQuestion:" (a base model given "Question: ...
// \nAnswer:" goes on to invent the next question); the others none.
std::vector<std::string> template_stop_strings(const std::string& name);

}  // namespace popo
