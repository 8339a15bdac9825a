#include "core/progress.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace popo {

namespace {

// Returns s with every control character (including '\r', '\n', ESC) replaced by a space.
std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long long s = static_cast<long long>(std::llround(seconds));
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

std::string format_eta(int64_t done, int64_t total, double elapsed_s) {
  if (total <= 0 || done <= 0) return "--:--";
  if (done >= total) return "0:00";
  return format_duration(elapsed_s / static_cast<double>(done) * static_cast<double>(total - done));
}

Progress::Progress(std::string label, int64_t total, bool tty, ProgressOptions options)
    : label_(printable(label)), total_(total), tty_(tty), opt_(std::move(options)) {
  if (!opt_.sink) {
    opt_.sink = [](const std::string& s) {
      std::fputs(s.c_str(), stderr);
      std::fflush(stderr);
    };
  }
  if (!opt_.clock) opt_.clock = steady_seconds;
  start_ = opt_.clock();
}

Progress::~Progress() {
  if (line_open_) {
    try {
      opt_.sink("\n");
    } catch (...) {  // a destructor must not throw; losing a newline is harmless
    }
  }
}

std::string Progress::format_line(int64_t done, double elapsed_s,
                                  const std::string& extra_fields) const {
  const std::string extra = printable(extra_fields);
  std::string line = label_;
  if (total_ > 0) {
    const double frac =
        std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
    const int percent = static_cast<int>(std::floor(frac * 100));
    char pct[16];
    std::snprintf(pct, sizeof pct, tty_ ? "%3d%%" : "%d%%", percent);
    const std::string counts = std::to_string(done) + "/" + std::to_string(total_);
    if (tty_) {
      const int filled = static_cast<int>(std::floor(frac * opt_.bar_width));
      line += " [" + std::string(filled, '#') + std::string(opt_.bar_width - filled, '.') + "] " +
              counts + " " + pct + " " + format_duration(elapsed_s) + "<" +
              format_eta(done, total_, elapsed_s);
    } else {
      line += " " + counts + " (" + pct + ") elapsed " + format_duration(elapsed_s) + " eta " +
              format_eta(done, total_, elapsed_s);
    }
  } else {
    line += " " + std::to_string(done) + " done, elapsed " + format_duration(elapsed_s);
  }
  if (!extra.empty()) line += " | " + extra;
  return line;
}

void Progress::emit(int64_t done, double now, const std::string& extra_fields) {
  const std::string line = format_line(done, now - start_, extra_fields);
  if (tty_) {
    opt_.sink("\r" + line + "\x1b[K");  // \x1b[K clears what a longer previous line left
    line_open_ = true;
  } else {
    opt_.sink(line + "\n");
  }
  last_print_ = now;
  printed_done_ = done;
  printed_extra_ = extra_fields;
  if (total_ > 0) last_percent_ = 100.0 * static_cast<double>(done) / static_cast<double>(total_);
}

void Progress::update(int64_t done, const std::string& extra_fields) {
  last_done_ = done;
  last_extra_ = extra_fields;
  const double now = opt_.clock();
  const bool first = last_print_ < 0;
  const bool complete = total_ > 0 && done >= total_;
  bool due;
  if (tty_) {
    due = now - last_print_ >= opt_.tty_interval_s;
  } else {
    const double pct =
        total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 0;
    due = now - last_print_ >= opt_.plain_interval_s ||
          (opt_.plain_percent > 0 && total_ > 0 && pct - last_percent_ >= opt_.plain_percent);
  }
  if (first || complete || due) emit(done, now, extra_fields);
}

void Progress::finish(const std::string& extra_fields) {
  if (finished_) return;
  finished_ = true;
  const std::string& extra = extra_fields.empty() ? last_extra_ : extra_fields;
  // A log file already holding this exact state gets no duplicate line.
  if (tty_ || last_print_ < 0 || printed_done_ != last_done_ || printed_extra_ != extra)
    emit(last_done_, opt_.clock(), extra);
  if (tty_) opt_.sink("\n");
  line_open_ = false;
}

}  // namespace popo
