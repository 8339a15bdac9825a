// Where popo finds the files it ships (the benchmark and training data, the run configs) at run
// time, wherever it is installed: next to its own executable, never in the working directory.
// An installed popo (cmake --install, the .deb) has them in <prefix>/share/popo/; a popo run
// from its build folder reads the checkout's data/ and configs/. DEVELOPERS.md ("Where popo
// finds its files") gives the whole order, $POPO_DATA_DIR included.
#pragma once

#include <string>

namespace popo {

// Returns the folder of the running program (/proc/self/exe, symbolic links resolved).
std::string executable_dir();

// Returns the folder of the shipped files of one kind ("data" or "configs") for a program in
// exe_dir: exe_dir/../share/popo/<kind> when that folder exists (an installed popo), else
// <checkout>/<kind> of the build folder exe_dir (build_source_dir() resolved against exe_dir).
// Throws popo::Error naming both folders when neither exists.
std::string shipped_dir(const std::string& kind, const std::string& exe_dir);

// Returns shipped_dir(kind, executable_dir()).
std::string shipped_dir(const std::string& kind);

// Returns the data folder: $POPO_DATA_DIR when set and not empty, else shipped_dir("data").
std::string default_data_dir();

}  // namespace popo
