// core/paths.h and core/build_paths.h: where a program finds the shipped data and configs (the
// installed share/popo/ first, then the checkout of its build folder), the POPO_DATA_DIR
// override, and the checkout's own folders as the test programs see them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/build_paths.h"
#include "core/error.h"
#include "core/paths.h"

namespace popo {
namespace {

namespace fs = std::filesystem;

// A fresh, empty folder under the temporary directory, removed with the object.
struct TempTree {
  fs::path root;
  explicit TempTree(const std::string& name)
      : root(fs::temp_directory_path() / ("popo_paths_test_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~TempTree() { fs::remove_all(root); }
};

// Sets or unsets an environment variable for the scope, restoring the old value.
struct ScopedEnv {
  std::string name, old;
  bool had;
  ScopedEnv(const char* n, const char* value) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    if (value) ::setenv(n, value, 1); else ::unsetenv(n);
  }
  ~ScopedEnv() {
    if (had) ::setenv(name.c_str(), old.c_str(), 1); else ::unsetenv(name.c_str());
  }
};

TEST(ShippedDir, InstalledLayoutIsFoundBesideTheProgram) {
  TempTree t("installed");
  fs::create_directories(t.root / "bin");
  fs::create_directories(t.root / "share/popo/data");
  fs::create_directories(t.root / "share/popo/configs");
  const std::string bin = (t.root / "bin").string();
  EXPECT_EQ(shipped_dir("data", bin), (t.root / "share/popo/data").string());
  EXPECT_EQ(shipped_dir("configs", bin), (t.root / "share/popo/configs").string());
}

TEST(ShippedDir, BuildFolderFallsBackToItsCheckout) {
  // A build folder <t>/build whose checkout is build_source_dir() away, as in this build.
  TempTree t("build");
  const fs::path build = t.root / "build";
  const fs::path data = (build / build_source_dir() / "data").lexically_normal();
  fs::create_directories(build);
  fs::create_directories(data);
  EXPECT_EQ(shipped_dir("data", build.string()), data.string());
}

TEST(ShippedDir, MissingEverywhereNamesBothFolders) {
  TempTree t("missing");
  fs::create_directories(t.root / "bin");
  try {
    shipped_dir("data", (t.root / "bin").string());
    FAIL() << "expected popo::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((t.root / "share/popo/data").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("(a build folder of the checkout)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("POPO_DATA_DIR"), std::string::npos) << msg;
  }
}

TEST(DefaultDataDir, EnvironmentWinsWhenNotEmpty) {
  {
    ScopedEnv env("POPO_DATA_DIR", "/tmp/popo-data-x");
    EXPECT_EQ(default_data_dir(), "/tmp/popo-data-x");
  }
  {
    ScopedEnv env("POPO_DATA_DIR", "");  // empty counts as unset
    EXPECT_EQ(default_data_dir(), std::string(build_data_dir()));
  }
  ScopedEnv env("POPO_DATA_DIR", nullptr);
  EXPECT_EQ(default_data_dir(), std::string(build_data_dir()));
}

TEST(BuildPaths, TestProgramsSeeTheCheckoutsFolders) {
  // The test program lives in the build folder: its checkout's files are found from there.
  EXPECT_TRUE(fs::is_regular_file(fs::path(build_data_dir()) / "amc23.jsonl")) << build_data_dir();
  EXPECT_TRUE(fs::is_regular_file(fs::path(build_fixtures_dir()) / "tokenizers/qwen/tokenizer.json"))
      << build_fixtures_dir();
  EXPECT_TRUE(fs::path(build_data_dir()).is_absolute());
  EXPECT_EQ(fs::path(executable_dir()), fs::canonical("/proc/self/exe").parent_path());
}

}  // namespace
}  // namespace popo
