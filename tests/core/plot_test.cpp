#include "core/plot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/io.h"

namespace popo {
namespace {

TEST(PlotTicks, HandCheckedCases) {
  struct Case {
    double lo, hi;
    int n;
    std::vector<double> want;
  };
  // Heckbert by hand: range = nice(hi - lo) rounded up, step = nice(range / (n - 1)) rounded.
  const Case cases[] = {
      {0, 1, 5, {0, 0.2, 0.4, 0.6, 0.8, 1.0}},               // range 1, step nice(0.25) = 0.2
      {0, 97, 5, {0, 20, 40, 60, 80, 100}},                  // range 100, step nice(25) = 20
      {-3.2, 7.9, 5, {-5, 0, 5, 10}},                        // range nice(11.1) = 20, step 5
      {0.43, 0.51, 5, {0.42, 0.44, 0.46, 0.48, 0.5, 0.52}},  // range 0.1, step 0.02
      {1, 1000, 5, {0, 200, 400, 600, 800, 1000}},           // range 1000, step nice(250) = 200
      {0, 12, 5, {0, 5, 10, 15}},                            // range 20, step 5
      {0.3, 0.7, 5, {0.3, 0.4, 0.5, 0.6, 0.7}},              // range 0.5, step nice(0.125) = 0.1
      {-1e-3, 0, 3, {-1e-3, -5e-4, 0}},                      // range 1e-3, step nice(5e-4) = 5e-4
  };
  for (const Case& c : cases) {
    const std::vector<double> got = nice_ticks(c.lo, c.hi, c.n);
    ASSERT_EQ(got.size(), c.want.size()) << c.lo << ".." << c.hi;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_DOUBLE_EQ(got[i], c.want[i]) << c.lo << ".." << c.hi;
  }
}

TEST(PlotTicks, AlwaysRoundAndCovering) {
  const double cases[][2] = {{0, 1},           {-7.3, 1e-3},  {123.4, 123.9},
                             {5, 5},           {-2, -2},      {0, 0},
                             {1e-7, 3e-7},     {-1e6, 3.3e6}, {0.1, 0.30000000000000004},
                             {2.9999999999, 4}};
  for (const auto& c : cases) {
    const std::vector<double> t = nice_ticks(c[0], c[1], 5);
    ASSERT_GE(t.size(), 2u);
    EXPECT_LE(t.front(), c[0]);
    EXPECT_GE(t.back(), c[1]);
    EXPECT_LE(t.size(), 12u);
    const double step = t[1] - t[0];
    const double mant = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::abs(mant - 1) < 1e-6 || std::abs(mant - 2) < 1e-6 || std::abs(mant - 5) < 1e-6)
        << "step " << step;
    for (double v : t) EXPECT_NEAR(v / step, std::round(v / step), 1e-6) << v;  // multiples of step
  }
}

TEST(PlotTicks, LabelsUseTheStepsDecimals) {
  EXPECT_EQ(format_tick(0.30000000000000004, 0.1), "0.3");
  EXPECT_EQ(format_tick(100, 20), "100");
  EXPECT_EQ(format_tick(-0.0, 0.5), "0.0");
  EXPECT_EQ(format_tick(0.52, 0.02), "0.52");
  EXPECT_EQ(format_tick(2e7, 5e6), "2e+07");
}

// Checks that every opened tag is closed in order; returns "" or what went wrong.
std::string tag_balance_error(const std::string& svg) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = svg.find('<', pos)) != std::string::npos) {
    const size_t end = svg.find('>', pos);
    if (end == std::string::npos) return "unterminated tag";
    const std::string tag = svg.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1))
        return "unexpected </" + tag.substr(1) + ">";
      stack.pop_back();
      continue;
    }
    if (tag.back() == '/') continue;
    stack.push_back(tag.substr(0, tag.find(' ')));
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

double attr(const std::string& elem, const std::string& name) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(elem, m, std::regex(" " + name + "=\"([-0-9.]+)\""))) << name;
  return std::stod(m[1]);
}

PlotSpec sample_spec() {
  PlotSpec p{"reward <mean> & \"max\"", "step", "reward", {}};
  Series a{"mean", {}, {}, {}, {}}, b{"max", {}, {}, {}, {}}, c{"held-out", {}, {}, {}, {}};
  for (int i = 0; i < 50; ++i) {
    a.x.push_back(i), a.y.push_back(0.3 + 0.01 * i);
    b.x.push_back(i), b.y.push_back(i == 20 ? std::nan("") : 0.5 + 0.005 * i);
  }
  c.x = {0, 25, 49}, c.y = {0.2, -0.1, 0.9};
  p.series = {a, b, c};
  return p;
}

TEST(PlotSvg, BalancedTagsOnePolylinePerSeriesInsidePlotArea) {
  const PlotSpec spec = sample_spec();
  const std::string svg = render_svg(spec);
  EXPECT_EQ(tag_balance_error(svg), "");
  EXPECT_EQ(count(svg, "<polyline"), 3u);
  EXPECT_EQ(count(svg, "&lt;mean&gt; &amp; &quot;max&quot;"), 1u);  // escaped title
  // Three distinct stroke colours.
  std::set<std::string> colors;
  std::regex poly("<polyline[^>]*stroke=\"(#[0-9a-f]{6})\"[^>]*points=\"([^\"]*)\"");
  std::smatch area_m;
  ASSERT_TRUE(std::regex_search(svg, area_m, std::regex("<rect class=\"plot-area\"[^>]*>")));
  const std::string area = area_m[0];
  const double x0 = attr(area, "x"), y0 = attr(area, "y");
  const double x1 = x0 + attr(area, "width"), y1 = y0 + attr(area, "height");
  std::vector<size_t> npoints;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), poly); it != std::sregex_iterator();
       ++it) {
    colors.insert((*it)[1]);
    std::stringstream pts((*it)[2].str());
    std::string xy;
    size_t n = 0;
    while (pts >> xy) {
      const double x = std::stod(xy.substr(0, xy.find(','))),
                   y = std::stod(xy.substr(xy.find(',') + 1));
      EXPECT_GE(x, x0 - 1e-9);
      EXPECT_LE(x, x1 + 1e-9);
      EXPECT_GE(y, y0 - 1e-9);
      EXPECT_LE(y, y1 + 1e-9);
      ++n;
    }
    npoints.push_back(n);
  }
  EXPECT_EQ(colors.size(), 3u);
  EXPECT_EQ(npoints, (std::vector<size_t>{50, 49, 3}));  // the NaN point is skipped
  // The x axis (0..49) gets round ticks ending at 50 with labels.
  EXPECT_NE(svg.find(">50</text>"), std::string::npos);
  EXPECT_NE(svg.find(">mean</text>"), std::string::npos);  // legend entry
}

TEST(PlotSvg, EmptyAndMismatchedSeries) {
  PlotSpec empty{"entropy", "step", "nats", {Series{"policy", {}, {}, {}, {}}}};
  const std::string svg = render_svg(empty);
  EXPECT_EQ(tag_balance_error(svg), "");
  EXPECT_NE(svg.find("no data"), std::string::npos);
  PlotSpec bad{"x", "", "", {Series{"s", {1, 2}, {1}, {}, {}}}};
  EXPECT_THROW(render_svg(bad), Error);
}

// A band is one translucent polygon behind its line: the lo edge left to right, then the hi edge
// back, so its vertices are 2 x points; the y axis widens to hold the band, and a band whose
// length differs from the series' is an error.
TEST(PlotSvg, BandIsOnePolygonAroundTheLineAndWidensTheAxis) {
  PlotSpec p{"acc", "step", "accuracy", {}};
  Series s{"popo", {0, 10, 20}, {0.4, 0.5, 0.6}, {0.35, 0.45, 0.5}, {0.45, 0.55, 0.9}};
  p.series = {s};
  const std::string svg = render_svg(p);
  EXPECT_EQ(tag_balance_error(svg), "");
  EXPECT_EQ(count(svg, "<polygon class=\"band\""), 1u);
  EXPECT_LT(svg.find("<polygon class=\"band\""), svg.find("<polyline"));  // drawn first
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("<polygon class=\"band\"[^>]*points=\"([^\"]*)\"")));
  std::stringstream pts(m[1].str());
  std::vector<double> ys;
  std::string xy;
  while (pts >> xy) ys.push_back(std::stod(xy.substr(xy.find(',') + 1)));
  ASSERT_EQ(ys.size(), 6u);
  // SVG y grows downwards: the hi edge (back half) lies above the lo edge at the same x.
  EXPECT_LT(ys[5], ys[0]);
  EXPECT_LT(ys[3], ys[2]);
  // The axis reaches the band's 0.9, above every point of the line (ticks ... 0.9 or 1.0).
  EXPECT_TRUE(svg.find(">0.9</text>") != std::string::npos || svg.find(">1.0</text>") != std::string::npos) << svg;
  Series bad = s;
  bad.lo.pop_back();
  p.series = {bad};
  EXPECT_THROW(render_svg(p), Error);
}

TEST(PlotSvg, GridHoldsEveryPanelAndIsWrittenAtomically) {
  std::vector<PlotSpec> panels(4, sample_spec());
  panels[3] = PlotSpec{"length", "step", "tokens", {Series{"len", {1, 2, 3}, {10, 20, 15}, {}, {}}}};
  const std::string svg = render_plot_grid_svg(panels, /*columns=*/2);
  EXPECT_EQ(tag_balance_error(svg), "");
  EXPECT_EQ(count(svg, "class=\"plot-area\""), 4u);
  EXPECT_EQ(count(svg, "<polyline"), 10u);
  EXPECT_NE(svg.find("width=\"960\" height=\"640\""), std::string::npos);
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("popo_plot_test_" + std::to_string(::getpid())))
          .string();
  const std::string path = path_join(dir, "plots/curves.svg");
  write_plot_grid_svg(path, panels, 2);
  EXPECT_EQ(read_file(path), svg);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace popo
