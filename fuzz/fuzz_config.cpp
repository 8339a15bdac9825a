// The YAML config with dotted overrides: the input split at its first NUL byte into a YAML file
// and override lines (key=value). A config that loads and validates dumps to YAML that loads back
// to the same dump.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "core/config.h"
#include "fuzz_util.h"
#include "train/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = popo::fuzz::split_at_nul(data, size);
  const std::string& yaml = parts.first;
  const std::string& overrides = parts.second;
  popo::fuzz::only_popo_errors("config", [&] {
    popo::RunConfig cfg = popo::default_run_config();
    popo::load_yaml_string(yaml, cfg, "<fuzz>");
    std::istringstream lines(overrides);
    for (std::string line; std::getline(lines, line);) popo::apply_override(cfg, line);
    const std::string dump = popo::dump_yaml(cfg);
    popo::RunConfig again = popo::default_run_config();
    popo::load_yaml_string(dump, again, "<dump>");
    FUZZ_CHECK(popo::dump_yaml(again) == dump, "dump_yaml does not load back to itself:\n", dump);
    popo::validate_run_config(cfg);
  });
  return 0;
}
