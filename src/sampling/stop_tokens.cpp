// resolve_stop_tokens: config.json + generation_config.json + the Qwen chat end tokens.
#include "sampling/stop_tokens.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "model/config.h"
#include "tokenizer/tokenizer.h"

namespace popo {

std::vector<int64_t> resolve_stop_tokens(const std::string& model_dir, const ModelConfig& config,
                                         const Tokenizer& tokenizer) {
  std::vector<int64_t> ids;
  auto add = [&](int64_t id) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  for (int64_t id : config.eos_token_ids) add(id);
  const std::string gen_path = model_dir.empty() ? "" : path_join(model_dir, "generation_config.json");
  if (!gen_path.empty() && path_exists(gen_path)) {
    const nlohmann::json j = nlohmann::json::parse(read_file(gen_path), nullptr, /*allow_exceptions=*/false);
    POPO_CHECK(!j.is_discarded() && j.is_object(), gen_path, ": not a JSON object");
    if (j.contains("eos_token_id") && !j.at("eos_token_id").is_null()) {
      const nlohmann::json& e = j.at("eos_token_id");
      const nlohmann::json list = e.is_array() ? e : nlohmann::json::array({e});
      for (const nlohmann::json& v : list) {
        POPO_CHECK(v.is_number_integer(), gen_path, ": eos_token_id must be an integer or a list "
                   "of integers, got ", e.dump());
        add(v.get<int64_t>());
      }
    }
  }
  for (const char* name : {"<|im_end|>", "<|endoftext|>"}) {
    const int32_t id = tokenizer.token_to_id(name);
    if (id >= 0) add(id);
  }
  POPO_CHECK(!ids.empty(), "model ", model_dir.empty() ? std::string("config") : model_dir,
             " has no eos_token_id and its tokenizer has neither <|im_end|> nor <|endoftext|>: "
             "responses could not stop before the token budget");
  return ids;
}

}  // namespace popo
