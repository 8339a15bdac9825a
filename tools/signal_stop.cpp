// SIGINT/SIGTERM -> stop flag (async-signal-safe: an atomic store and signal()).
#include "tools/signal_stop.h"

#include <csignal>

namespace popo::tools {

namespace {
std::atomic<bool> g_stop{false};
using Handler = void (*)(int);
Handler g_prev_int = SIG_DFL;
Handler g_prev_term = SIG_DFL;

extern "C" void on_stop_signal(int sig) {
  g_stop.store(true);
  std::signal(sig, SIG_DFL);  // a second signal takes the default action
}
}  // namespace

ScopedStopOnSignal::ScopedStopOnSignal() {
  g_stop.store(false);
  g_prev_int = std::signal(SIGINT, on_stop_signal);
  g_prev_term = std::signal(SIGTERM, on_stop_signal);
}

ScopedStopOnSignal::~ScopedStopOnSignal() {
  std::signal(SIGINT, g_prev_int == SIG_ERR ? SIG_DFL : g_prev_int);
  std::signal(SIGTERM, g_prev_term == SIG_ERR ? SIG_DFL : g_prev_term);
}

const std::atomic<bool>& ScopedStopOnSignal::flag() const { return g_stop; }

}  // namespace popo::tools
