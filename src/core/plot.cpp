#include "core/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "core/io.h"

namespace popo {

namespace {

// Tableau 10: distinct and readable on white.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// A tick step m * 10^e with m in {1, 2, 5, 10}.
struct Step {
  int mantissa;
  int exponent;
  double value() const { return mantissa * std::pow(10.0, exponent); }
  // Returns k * step computed so that k * 0.1 prints as a short decimal (k*m / 10^-e).
  double times(long long k) const {
    const double km = static_cast<double>(k * mantissa);
    return exponent >= 0 ? km * std::pow(10.0, exponent) : km / std::pow(10.0, -exponent);
  }
};

// Heckbert, "Nice numbers for graph labels" (Graphics Gems, 1990).
Step nice_step(double x, bool round) {
  const int e = static_cast<int>(std::floor(std::log10(x)));
  const double f = x / std::pow(10.0, e);
  int m;
  if (round)
    m = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else
    m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  if (m == 10) return {1, e + 1};
  return {m, e};
}

void widen_if_flat(double* lo, double* hi) {
  if (*hi > *lo) return;
  const double d = *lo == 0 ? 1.0 : std::abs(*lo) * 0.5;
  *lo -= d;
  *hi += d;
}

Step tick_step(double lo, double hi, int target_count) {
  const int n = std::max(2, target_count);
  const Step range = nice_step(hi - lo, /*round=*/false);
  return nice_step(range.value() / (n - 1), /*round=*/true);
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  bool empty() const { return lo > hi; }
};

// Returns the SVG elements of one panel drawn in the box (x0, y0, w, h).
std::string render_panel(const PlotSpec& spec, double x0, double y0, double w, double h) {
  Range xr, yr;
  for (const Series& s : spec.series) {
    POPO_CHECK(s.x.size() == s.y.size(), "plot '", spec.title, "': series '", s.name, "' has ",
               s.x.size(), " x values but ", s.y.size(), " y values");
    const bool band = !s.lo.empty() || !s.hi.empty();
    POPO_CHECK(!band || (s.lo.size() == s.x.size() && s.hi.size() == s.x.size()), "plot '",
               spec.title, "': series '", s.name, "' has a band of ", s.lo.size(), " / ",
               s.hi.size(), " values for ", s.x.size(), " points");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xr.add(s.x[i]);
      yr.add(s.y[i]);
      if (band && std::isfinite(s.lo[i]) && std::isfinite(s.hi[i])) yr.add(s.lo[i]), yr.add(s.hi[i]);
    }
  }
  const bool no_data = xr.empty();
  if (no_data) xr = {0, 1}, yr = {0, 1};
  widen_if_flat(&xr.lo, &xr.hi);
  widen_if_flat(&yr.lo, &yr.hi);
  const std::vector<double> xt = nice_ticks(xr.lo, xr.hi, /*target_count=*/6);
  const std::vector<double> yt = nice_ticks(yr.lo, yr.hi, /*target_count=*/5);
  const double xmin = xt.front(), xmax = xt.back(), ymin = yt.front(), ymax = yt.back();

  // Plot area inside the panel: room for the title above, tick labels and axis labels around.
  const double left = x0 + 62, right = x0 + w - 14, top = y0 + 28, bottom = y0 + h - 42;
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * (right - left); };
  auto py = [&](double y) { return bottom - (y - ymin) / (ymax - ymin) * (bottom - top); };

  std::string o;
  o += "<g class=\"panel\">\n";
  o += "<rect class=\"plot-area\" x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" +
       num(right - left) + "\" height=\"" + num(bottom - top) +
       "\" fill=\"#ffffff\" stroke=\"#444444\"/>\n";
  // Gridlines and tick labels.
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double t : xt) {
    const std::string x = num(px(t));
    o += "<line class=\"grid\" x1=\"" + x + "\" y1=\"" + num(top) + "\" x2=\"" + x + "\" y2=\"" +
         num(bottom) + "\" stroke=\"#e0e0e0\"/>\n";
    o += "<text class=\"tick\" x=\"" + x + "\" y=\"" + num(bottom + 14) +
         "\" text-anchor=\"middle\">" + format_tick(t, xstep) + "</text>\n";
  }
  for (double t : yt) {
    const std::string y = num(py(t));
    o += "<line class=\"grid\" x1=\"" + num(left) + "\" y1=\"" + y + "\" x2=\"" + num(right) +
         "\" y2=\"" + y + "\" stroke=\"#e0e0e0\"/>\n";
    o += "<text class=\"tick\" x=\"" + num(left - 5) + "\" y=\"" + num(py(t) + 4) +
         "\" text-anchor=\"end\">" + format_tick(t, ystep) + "</text>\n";
  }
  // Title and axis labels.
  o += "<text class=\"title\" x=\"" + num((left + right) / 2) + "\" y=\"" + num(y0 + 18) +
       "\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">" + xml_escape(spec.title) +
       "</text>\n";
  o += "<text class=\"xlabel\" x=\"" + num((left + right) / 2) + "\" y=\"" + num(y0 + h - 8) +
       "\" text-anchor=\"middle\">" + xml_escape(spec.xlabel) + "</text>\n";
  const std::string ylx = num(x0 + 14), yly = num((top + bottom) / 2);
  o += "<text class=\"ylabel\" x=\"" + ylx + "\" y=\"" + yly +
       "\" text-anchor=\"middle\" transform=\"rotate(-90 " + ylx + " " + yly + ")\">" +
       xml_escape(spec.ylabel) + "</text>\n";
  if (no_data) {
    o += "<text x=\"" + num((left + right) / 2) + "\" y=\"" + num((top + bottom) / 2) +
         "\" text-anchor=\"middle\" fill=\"#888888\">no data</text>\n";
  }
  // Bands first, so that every line stays on top: the lo edge forward, the hi edge back.
  for (size_t si = 0; si < spec.series.size(); ++si) {
    const Series& s = spec.series[si];
    if (s.lo.empty()) continue;
    std::string fwd, back;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.lo[i]) || !std::isfinite(s.hi[i])) continue;
      fwd += (fwd.empty() ? "" : " ") + num(px(s.x[i])) + "," + num(py(s.lo[i]));
      back = num(px(s.x[i])) + "," + num(py(s.hi[i])) + (back.empty() ? "" : " ") + back;
    }
    if (fwd.empty()) continue;
    o += "<polygon class=\"band\" fill=\"" +
         std::string(kColors[si % (sizeof kColors / sizeof kColors[0])]) +
         "\" fill-opacity=\"0.18\" stroke=\"none\" points=\"" + fwd + " " + back + "\"/>\n";
  }
  // Curves: one polyline per series, non-finite points skipped.
  for (size_t si = 0; si < spec.series.size(); ++si) {
    const Series& s = spec.series[si];
    const char* color = kColors[si % (sizeof kColors / sizeof kColors[0])];
    std::string points;
    int finite = 0;
    double lx = 0, ly = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      lx = px(s.x[i]), ly = py(s.y[i]);
      points += (finite++ ? " " : "") + num(lx) + "," + num(ly);
    }
    o += "<polyline class=\"series\" fill=\"none\" stroke=\"" + std::string(color) +
         "\" stroke-width=\"1.6\" points=\"" + points + "\"/>\n";
    if (finite == 1) {  // a lone point draws no line
      o += "<circle cx=\"" + num(lx) + "\" cy=\"" + num(ly) + "\" r=\"2.5\" fill=\"" + color +
           "\"/>\n";
    }
  }
  // Legend in the top-right corner of the plot area.
  if (!spec.series.empty()) {
    size_t longest = 0;
    for (const Series& s : spec.series) longest = std::max(longest, s.name.size());
    const double lw = 34 + 6.2 * static_cast<double>(longest), lh = 6 + 15.0 * spec.series.size();
    const double lx0 = right - lw - 6, ly0 = top + 6;
    o += "<g class=\"legend\">\n<rect x=\"" + num(lx0) + "\" y=\"" + num(ly0) + "\" width=\"" +
         num(lw) + "\" height=\"" + num(lh) +
         "\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n";
    for (size_t si = 0; si < spec.series.size(); ++si) {
      const char* color = kColors[si % (sizeof kColors / sizeof kColors[0])];
      const double yy = ly0 + 12 + 15.0 * si;
      o += "<line x1=\"" + num(lx0 + 6) + "\" y1=\"" + num(yy - 4) + "\" x2=\"" + num(lx0 + 24) +
           "\" y2=\"" + num(yy - 4) + "\" stroke=\"" + color + "\" stroke-width=\"2\"/>\n";
      o += "<text x=\"" + num(lx0 + 28) + "\" y=\"" + num(yy) + "\">" +
           xml_escape(spec.series[si].name) + "</text>\n";
    }
    o += "</g>\n";
  }
  o += "</g>\n";
  return o;
}

std::string svg_open(int width, int height) {
  const std::string w = std::to_string(width), h = std::to_string(height);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
         "width=\"" +
         w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
         "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"" + w + "\" height=\"" +
         h + "\" fill=\"#ffffff\"/>\n";
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
  POPO_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi,
             "nice_ticks: need finite lo <= hi, got [", lo, ", ", hi, "]");
  widen_if_flat(&lo, &hi);
  const Step step = tick_step(lo, hi, target_count);
  const double sv = step.value();
  // The small slack keeps lo = 0.3 from flooring to 0.2 through 0.3 / 0.1 = 2.9999999999999996.
  long long k0 = static_cast<long long>(std::floor(lo / sv + 1e-9));
  long long k1 = static_cast<long long>(std::ceil(hi / sv - 1e-9));
  if (step.times(k0) > lo) --k0;  // the slack must never leave data outside the ticks
  if (step.times(k1) < hi) ++k1;
  std::vector<double> ticks;
  for (long long k = k0; k <= k1; ++k) ticks.push_back(step.times(k) + 0.0);  // + 0.0: no -0
  return ticks;
}

std::string format_tick(double value, double step) {
  const double a = std::abs(value);
  char buf[48];
  if (a != 0 && (a >= 1e7 || a < 1e-5)) {
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
  }
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 10), value + 0.0);
  std::string s = buf;
  if (s == "-0") s = "0";
  return s;
}

std::string render_svg(const PlotSpec& spec, int width, int height) {
  return svg_open(width, height) + render_panel(spec, 0, 0, width, height) + "</svg>\n";
}

std::string render_plot_grid_svg(const std::vector<PlotSpec>& panels, int columns, int panel_width,
                                 int panel_height) {
  POPO_CHECK(columns >= 1, "plot grid: columns must be >= 1, got ", columns);
  const int n = static_cast<int>(panels.size());
  const int cols = std::max(1, std::min(columns, n));
  const int rows = (n + cols - 1) / cols;
  std::string o = svg_open(cols * panel_width, std::max(1, rows) * panel_height);
  for (int i = 0; i < n; ++i) {
    o += render_panel(panels[i], (i % cols) * panel_width, (i / cols) * panel_height, panel_width,
                      panel_height);
  }
  return o + "</svg>\n";
}

void write_plot_grid_svg(const std::string& path, const std::vector<PlotSpec>& panels,
                         int columns) {
  write_file_atomic(path, render_plot_grid_svg(panels, columns));
}

}  // namespace popo
