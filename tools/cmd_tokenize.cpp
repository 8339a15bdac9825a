// `popo tokenize --tokenizer FILE [--json] TEXT`: prints the ids of TEXT (space-separated), or
// one JSON object {"ids": [...], "text": decode(ids)} with --json. `--jsonl FILE` reads one
// object a line, {"text": ...} (wrapped by --template) or {"messages": [{"role", "content"}...],
// "add_generation_prompt": true} (rendered by --template), and prints one
// {"ids": [...], "text": decode(ids), "prompt": the rendered text} line for each (the tokenizer
// and chat-template oracles drive it this way). A debugging aid for prompts and chat templates; it
// needs no model.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tools/command.h"

namespace popo::tools {
namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string text;
  std::string chat_template = "raw";
  std::string jsonl;
  bool have_text = false;
  bool json = false;
};

nlohmann::json encode_json(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  nlohmann::json j;
  j["ids"] = ids;
  j["text"] = tok.decode(ids);
  return j;
}

void run_tokenize_jsonl(const Tokenizer& tok, const TokenizeOptions& o) {
  std::ifstream in(o.jsonl, std::ios::binary);
  POPO_CHECK(in.good(), "--jsonl ", o.jsonl, ": cannot open");
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      POPO_FAIL(o.jsonl, ":", n, ": not JSON (", e.what(), ")");
    }
    std::string prompt;
    if (row.is_object() && row.contains("messages")) {
      std::vector<ChatMessage> messages;
      try {
        for (const auto& m : row.at("messages")) {
          messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
        }
      } catch (const nlohmann::json::exception& e) {
        POPO_FAIL(o.jsonl, ":", n, ": \"messages\" must be a list of {\"role\", \"content\"} strings (",
                  e.what(), ")");
      }
      prompt = render_chat(o.chat_template, messages, row.value("add_generation_prompt", true));
    } else {
      POPO_CHECK(row.is_object() && row.contains("text") && row["text"].is_string(), o.jsonl, ":", n,
                 ": expected an object with a string field \"text\" or a list \"messages\"");
      prompt = apply_chat_template(o.chat_template, row["text"].get<std::string>());
    }
    nlohmann::json out = encode_json(tok, tok.encode(prompt));
    out["prompt"] = prompt;
    // A decode that splits a UTF-8 sequence is written with U+FFFD, as HF decodes it.
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
}

void run_tokenize(const TokenizeOptions& o) {
  const Tokenizer tok = Tokenizer::from_file(o.tokenizer);
  if (!o.jsonl.empty()) return run_tokenize_jsonl(tok, o);
  POPO_CHECK(o.have_text, "popo tokenize: give the TEXT to tokenize, or --jsonl FILE");
  const std::vector<int32_t> ids = tok.encode(apply_chat_template(o.chat_template, o.text));
  if (o.json) {
    std::cout << encode_json(tok, ids).dump() << "\n";
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
                     "chat template applied first: chatml, qwen-boxed, qwen3, plain, raw")
          ->capture_default_str();
      app.add_flag("--json", o->json, "print {\"ids\": [...], \"text\": decode(ids)}");
      auto* jsonl = app.add_option("--jsonl", o->jsonl,
                                   "one {\"text\": ...} object a line; prints one {\"ids\", \"text\"} line each");
      auto* text = app.add_option("text", o->text, "the text to tokenize")->excludes(jsonl);
      app.callback([o, text] {
        o->have_text = text->count() > 0;
        run_tokenize(*o);
      });
    });

}  // namespace
}  // namespace popo::tools
