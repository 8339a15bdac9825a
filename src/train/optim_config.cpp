// The spelling of trainer.schedule.
#include "train/optim_config.h"

namespace popo {

const std::vector<const char*>& enum_names(LrSchedule) {
  static const std::vector<const char*> n = {"cosine", "constant"};
  return n;
}

}  // namespace popo
