// SVG line plots of training curves (reward, held-out accuracy, entropy, length vs step), written
// without external tools: axes, round-number ticks (Heckbert's "nice numbers"), gridlines, a
// legend and one colour per series. Not a general plotting library: linear axes only, no PNG.
#pragma once

#include <string>
#include <vector>

namespace popo {

// One curve. x and y have equal length; non-finite points are left out of the line. A band
// (lo, hi both of x's length, e.g. mean -/+ one standard deviation over seeds) is drawn as a
// translucent area behind the line; empty lo and hi = no band.
struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;
};

// One panel: a title, axis labels and its curves.
struct PlotSpec {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
};

// Returns evenly spaced round tick values (step 1, 2 or 5 times a power of ten) whose first tick
// is <= lo and last tick >= hi, about target_count of them. lo == hi is widened around the value.
std::vector<double> nice_ticks(double lo, double hi, int target_count = 5);

// Returns the text of a tick label: fixed-point with as many decimals as the tick step needs.
std::string format_tick(double value, double step);

// Returns a standalone SVG document of one panel (width x height pixels). The plot area is the
// element <rect class="plot-area" .../>; every series is one <polyline> inside it, and a band
// one <polygon class="band">. Throws popo::Error if a series has x and y (or a band) of
// different lengths.
std::string render_svg(const PlotSpec& spec, int width = 480, int height = 320);

// Returns one SVG document holding the panels in a grid of `columns` columns (row-major).
std::string render_plot_grid_svg(const std::vector<PlotSpec>& panels, int columns,
                                 int panel_width = 480, int panel_height = 320);

// Writes render_plot_grid_svg(panels, columns) to path atomically (core/io.h write_file_atomic).
void write_plot_grid_svg(const std::string& path, const std::vector<PlotSpec>& panels, int columns);

}  // namespace popo
