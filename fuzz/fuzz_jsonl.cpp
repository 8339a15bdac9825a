// The JSONL dataset reader: arbitrary bytes as a dataset file. Read leniently, every non-blank
// line is a problem or a counted skip; read strictly, it gives the same problems or one error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/math_dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<popo::MathProblem> lenient;
  popo::LoadReport report;
  bool loaded = false;
  popo::fuzz::only_popo_errors("load_math_jsonl_text (lenient)", [&] {
    lenient = popo::load_math_jsonl_text(text, "<fuzz>", /*strict=*/false, &report);
    loaded = true;
  });
  if (!loaded) return 0;
  size_t rows = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.substr(pos, end - pos).find_first_not_of(" \t\r\n") != std::string::npos) ++rows;
    pos = end + 1;
  }
  FUZZ_CHECK(lenient.size() + static_cast<size_t>(report.skipped) == rows, lenient.size(), " problems + ",
             report.skipped, " skipped != ", rows, " rows");
  for (const auto& p : lenient) FUZZ_CHECK(!p.answer.empty() && !p.id.empty(), "empty answer or id");
  popo::fuzz::only_popo_errors("load_math_jsonl_text (strict)", [&] {
    const auto strict = popo::load_math_jsonl_text(text, "<fuzz>", /*strict=*/true);
    FUZZ_CHECK(report.skipped == 0 && strict.size() == lenient.size(), "strict read accepted skipped rows");
  });
  return 0;
}
