// `popo tokenize --tokenizer FILE [--json] TEXT`: prints the ids of TEXT (space-separated), or
// one JSON object {"ids": [...], "text": decode(ids)} with --json. A debugging aid for prompts
// and chat templates; it needs no model.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tools/command.h"

namespace popo::tools {
namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string text;
  std::string chat_template = "raw";
  bool json = false;
};

void run_tokenize(const TokenizeOptions& o) {
  const Tokenizer tok = Tokenizer::from_file(o.tokenizer);
  const std::vector<int32_t> ids = tok.encode(apply_chat_template(o.chat_template, o.text));
  if (o.json) {
    nlohmann::json j;
    j["ids"] = ids;
    j["text"] = tok.decode(ids);
    std::cout << j.dump() << "\n";
    return;
  }
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(ids[i]);
  }
  std::cout << line << "\n";
}

const CommandRegistrar kRegistrar(
    "tokenize", "print the token ids of a text (debugging aid)", /*order=*/50, [](CLI::App& app) {
      auto o = std::make_shared<TokenizeOptions>();
      app.add_option("--tokenizer", o->tokenizer, "tokenizer.json file")->required();
      app.add_option("--template", o->chat_template,
                     "chat template applied first: chatml, qwen-boxed, plain, raw")
          ->capture_default_str();
      app.add_flag("--json", o->json, "print {\"ids\": [...], \"text\": decode(ids)}");
      app.add_option("text", o->text, "the text to tokenize")->required();
      app.callback([o] { run_tokenize(*o); });
    });

}  // namespace
}  // namespace popo::tools
