#include "core/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace popo {
namespace {

TEST(Progress, DurationAndEtaText) {
  struct Case {
    double seconds;
    const char* want;
  };
  const Case durations[] = {{0, "0:00"},
                            {7.4, "0:07"},
                            {59.6, "1:00"},
                            {125, "2:05"},
                            {3599, "59:59"},
                            {3600, "1:00:00"},
                            {3723, "1:02:03"},
                            {90000, "25:00:00"},
                            {-1, "--:--"},
                            {std::nan(""), "--:--"},
                            {std::numeric_limits<double>::infinity(), "--:--"}};
  for (const Case& c : durations) EXPECT_EQ(format_duration(c.seconds), c.want) << c.seconds;

  // 25 of 100 done in 10 s: 0.4 s per item, 75 left -> 30 s.
  EXPECT_EQ(format_eta(25, 100, 10), "0:30");
  EXPECT_EQ(format_eta(1, 1000, 4), "1:06:36");  // 999 * 4 s = 3996 s
  EXPECT_EQ(format_eta(0, 100, 10), "--:--");
  EXPECT_EQ(format_eta(5, 0, 10), "--:--");
  EXPECT_EQ(format_eta(100, 100, 10), "0:00");
}

struct Capture {
  std::string out;
  double now = 0;
  ProgressOptions options() {
    ProgressOptions o;
    o.sink = [this](const std::string& s) { out += s; };
    o.clock = [this] { return now; };
    return o;
  }
};

bool has_control_chars(const std::string& s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7f) return true;
  }
  return false;
}

size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(Progress, PlainLineFormat) {
  Capture cap;
  Progress p("train", 200, /*tty=*/false, cap.options());
  EXPECT_EQ(p.format_line(50, 20, "reward 0.43 | heldout 0.51"),
            "train 50/200 (25%) elapsed 0:20 eta 1:00 | reward 0.43 | heldout 0.51");
  EXPECT_EQ(p.format_line(0, 0, ""), "train 0/200 (0%) elapsed 0:00 eta --:--");
  Progress unknown("eval", 0, /*tty=*/false, cap.options());
  EXPECT_EQ(unknown.format_line(7, 3, ""), "eval 7 done, elapsed 0:03");
}

TEST(Progress, TtyLineHasBarAndRedrawsInPlace) {
  Capture cap;
  ProgressOptions o = cap.options();
  o.bar_width = 10;
  {
    Progress p("train", 4, /*tty=*/true, o);
    EXPECT_EQ(p.format_line(1, 2, "r 1"), "train [##........] 1/4  25% 0:02<0:06 | r 1");
    p.update(1, "r 1");
    cap.now = 0.05;
    p.update(2, "r 2");  // throttled: < 0.1 s since the last redraw
    cap.now = 0.2;
    p.update(3, "r 3");
  }  // destructor ends the open line
  EXPECT_EQ(cap.out,
            "\rtrain [##........] 1/4  25% 0:00<0:00 | r 1\x1b[K"
            "\rtrain [#######...] 3/4  75% 0:00<0:00 | r 3\x1b[K\n");
}

TEST(Progress, PlainModePrintsByTimeOrPercentWithoutControlChars) {
  Capture cap;
  ProgressOptions o = cap.options();
  o.plain_interval_s = 60;
  o.plain_percent = 25;
  Progress p("train\r\x1b[31m", 100, /*tty=*/false, o);
  for (int i = 1; i <= 100; ++i) {
    cap.now = i * 0.5;  // 50 s in total: the time rule never fires
    p.update(i, "note\twith\ncontrol");
  }
  p.finish();
  EXPECT_FALSE(has_control_chars(cap.out)) << cap.out;
  // First update (1%), then 26%, 51%, 76% (each 25 points on), then 100%; finish adds nothing new.
  EXPECT_EQ(lines(cap.out), 5u) << cap.out;
  EXPECT_NE(cap.out.find(" 26/100 "), std::string::npos) << cap.out;
  EXPECT_NE(cap.out.find(" 100/100 (100%) "), std::string::npos) << cap.out;

  Capture timed;
  ProgressOptions t = timed.options();
  t.plain_interval_s = 10;
  t.plain_percent = 0;
  Progress q("eval", 1000, /*tty=*/false, t);
  for (int i = 1; i <= 100; ++i) {
    timed.now = i;  // one update per second for 100 s, 10% done in all
    q.update(i, "");
  }
  // At t = 1 (first), 11, 21, ..., 91.
  EXPECT_EQ(lines(timed.out), 10u) << timed.out;
  q.finish("done");
  EXPECT_EQ(lines(timed.out), 11u);
  EXPECT_NE(timed.out.find("eval 100/1000 (10%) elapsed 1:40 eta 15:00 | done\n"),
            std::string::npos)
      << timed.out;
}

}  // namespace
}  // namespace popo
