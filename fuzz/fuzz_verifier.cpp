// The math verifier: arbitrary gold answer and response (the input split at its first NUL byte;
// the first byte picks the extraction options). Every verdict that is not "correct" carries a
// reason; an answer that normalizes to something is equivalent to itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "reward/math_normalize.h"
#include "reward/math_verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const auto parts = popo::fuzz::split_at_nul(data + 1, size - 1);
  const std::string& gold = parts.first;
  const std::string& response = parts.second;
  popo::VerifyOptions opt;
  opt.extraction = (mode & 1) ? popo::ExtractMode::kBoxed : popo::ExtractMode::kMathVerify;
  opt.allow_last_number = (mode & 2) != 0;
  opt.rel_tol = (mode & 4) ? 1e-3 : 0;
  opt.max_ms = 500;  // a hang past it is a finding (scripts/fuzz.sh runs with -timeout)
  popo::fuzz::only_popo_errors("verify", [&] {
    const popo::VerifyResult r = popo::verify(response, gold, opt);
    if (r.verdict != popo::Verdict::kCorrect) FUZZ_CHECK(!r.reason.empty(), "verdict without a reason");
    if (r.verdict == popo::Verdict::kCorrect) FUZZ_CHECK(!r.decided_by.empty(), "correct without a stage");
  });
  popo::fuzz::only_popo_errors("compare_answers", [&] {
    if (gold.size() > 200 || popo::normalize_answer(gold).empty()) return;
    const popo::Equivalence e = popo::compare_answers(gold, gold, opt);
    if (e.reason.find("time budget") != std::string::npos) return;
    FUZZ_CHECK(e.equal, "an answer is not equal to itself: [", gold, "] ", e.reason);
  });
  return 0;
}
