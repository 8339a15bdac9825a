// Section `reward` of a run config: how the math reward reads a response. The trainer's rollout
// rewards and held-out accuracy, `popo eval` and `popo verify` all grade through
// verify_options(), so one setting means one grading everywhere. Torch-free.
#pragma once

#include <string>

#include "reward/math_verifier.h"

namespace popo {

struct RewardConfig {
  // math_verify: Math-Verify's extraction order and fallbacks (docs/VERIFIER.md); boxed: only
  // \boxed{} / \fbox{} answers count (DeepScaleR-style recipes give 0 to unboxed answers).
  std::string extraction = "math_verify";

  template <class V>
  void visit_fields(V& v) {
    v("extraction", extraction,
      "answer extraction: math_verify (Math-Verify's order and fallbacks) | boxed (only \\boxed{} "
      "answers count)");
  }

  // Returns the verifier options of this section; throws popo::Error naming reward.extraction
  // when it is neither math_verify nor boxed.
  VerifyOptions verify_options() const {
    VerifyOptions o;
    o.extraction = parse_extract_mode(extraction, "reward.extraction");
    return o;
  }
};

}  // namespace popo
