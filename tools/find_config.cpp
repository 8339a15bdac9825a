// `--config NAME_OR_FILE`: a run config given by path, or one of the shipped configs by name
// (`popo train --config qwen2.5-math-1.5b-popo`), found beside the program (core/paths.h).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/paths.h"
#include "tools/command.h"

namespace popo::tools {

std::string find_config(const std::string& arg) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(arg) || arg.find('/') != std::string::npos) {
    POPO_CHECK(fs::is_regular_file(arg), "--config ", arg, ": no such file");
    return arg;
  }
  const fs::path dir = shipped_dir("configs");
  for (const std::string& file : {arg + ".yaml", arg}) {
    if (fs::is_regular_file(dir / file)) return (dir / file).string();
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  POPO_FAIL("--config ", arg, ": no such file, and no shipped config of that name in ",
            dir.string(), " (shipped: ", known, ")");
}

}  // namespace popo::tools
