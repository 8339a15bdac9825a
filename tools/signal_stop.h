// SIGINT as a stop request: while a ScopedStopOnSignal lives, the first Ctrl-C sets a flag that
// the training loop reads between steps (it checkpoints and returns); the handler then restores
// the default action, so a second Ctrl-C kills the process at once.
#pragma once

#include <atomic>

namespace popo::tools {

class ScopedStopOnSignal {
 public:
  // Installs the SIGINT (and SIGTERM) handler; only one instance may live at a time.
  ScopedStopOnSignal();
  // Restores the previous handlers.
  ~ScopedStopOnSignal();
  ScopedStopOnSignal(const ScopedStopOnSignal&) = delete;
  ScopedStopOnSignal& operator=(const ScopedStopOnSignal&) = delete;
  // Returns the flag set by the signal.
  const std::atomic<bool>& flag() const;
};

}  // namespace popo::tools
