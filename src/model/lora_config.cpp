#include "model/lora_config.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace popo {

const std::vector<std::string>& lora_module_names() {
  static const std::vector<std::string> names = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return names;
}

void validate(const LoraConfig& cfg) {
  POPO_CHECK(cfg.rank >= 0, "config: lora.rank must be >= 0 (0 = off), got ", cfg.rank);
  if (!cfg.enabled()) return;
  POPO_CHECK(cfg.alpha > 0, "config: lora.alpha must be > 0, got ", cfg.alpha);
  POPO_CHECK(cfg.dropout >= 0 && cfg.dropout < 1, "config: lora.dropout must be in [0, 1), got ",
             cfg.dropout);
  POPO_CHECK(!cfg.target_modules.empty(), "config: lora.target_modules is empty; name at least one of "
             "q_proj k_proj v_proj o_proj gate_proj up_proj down_proj (or set lora.rank=0)");
  const std::vector<std::string>& known = lora_module_names();
  std::set<std::string> seen;
  for (const std::string& m : cfg.target_modules) {
    POPO_CHECK(std::find(known.begin(), known.end(), m) != known.end(), "config: lora.target_modules: "
               "unknown module '", m, "'; expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or "
               "down_proj (PEFT's names; lm_head and embed_tokens are not adapted)");
    POPO_CHECK(seen.insert(m).second, "config: lora.target_modules names '", m, "' twice");
  }
}

}  // namespace popo
