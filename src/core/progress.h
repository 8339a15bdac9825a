// Console progress for long work (training steps, evaluation sweeps): done/total, elapsed, ETA
// and caller-supplied fields such as "reward 0.43 | heldout 0.51". On a terminal one line is
// redrawn in place with '\r' (throttled to about 10 redraws a second); in a log file plain lines
// without control characters appear every N seconds or every k percent, whichever comes first.
// Not thread-safe: one Progress per loop, updated from that loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace popo {

struct ProgressOptions {
  double tty_interval_s = 0.1;   // terminal: least time between redraws; 0 redraws every update
  double plain_interval_s = 30;  // log file: a line at least this often (seconds); 0 = every update
  double plain_percent = 10;     // log file: also a line per this many percent done; 0 disables
  int bar_width = 24;            // terminal: characters in the bar
  // Receives each piece of output; default writes to stderr and flushes.
  std::function<void(const std::string&)> sink;
  // Returns monotonic seconds; default is std::chrono::steady_clock (tests pass a fake clock).
  std::function<double()> clock;
};

// Returns a duration as "M:SS" or "H:MM:SS" ("--:--" when negative or not finite).
std::string format_duration(double seconds);

// Returns the estimated time left as format_duration text, from the mean time per item so far
// ("--:--" before the first item is done or when total is unknown, "0:00" once done >= total).
std::string format_eta(int64_t done, int64_t total, double elapsed_s);

class Progress {
 public:
  // total <= 0 means unknown (no bar, percent or ETA). tty picks the redraw mode; pass
  // stderr_is_tty() from core/log.h.
  Progress(std::string label, int64_t total, bool tty, ProgressOptions options = {});
  // Finishes an unfinished terminal line with a newline.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Reports done items of total with extra fields; prints when the throttle allows, and always for
  // the first update and when done reaches total.
  void update(int64_t done, const std::string& extra_fields = "");

  // Prints the final state unconditionally (and the newline that ends a terminal line).
  void finish(const std::string& extra_fields = "");

  // Returns the text of one progress line (no '\r', no newline) for done items after elapsed_s.
  std::string format_line(int64_t done, double elapsed_s, const std::string& extra_fields) const;

 private:
  void emit(int64_t done, double now, const std::string& extra_fields);

  std::string label_;
  int64_t total_;
  bool tty_;
  ProgressOptions opt_;
  double start_;
  double last_print_ = -1;   // clock time of the last output; < 0 before the first
  double last_percent_ = 0;  // percent done at the last plain line
  bool line_open_ = false;   // a terminal line is drawn without its newline
  bool finished_ = false;
  int64_t last_done_ = 0;
  std::string last_extra_;
  int64_t printed_done_ = -1;  // state shown by the last output
  std::string printed_extra_;
};

}  // namespace popo
