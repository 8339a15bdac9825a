// core/command_line.h: shell word splitting against what POSIX sh does with the same lines
// (the expected words were checked with `sh -c 'for w in "$@"; do echo "[$w]"; done' x LINE`),
// and quoting that splits back to the same words.
#include "core/command_line.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace popo {
namespace {

using Words = std::vector<std::string>;

TEST(CommandLine, SplitsAsAShellDoes) {
  const std::vector<std::pair<std::string, Words>> table = {
      {"python3 reward.py", {"python3", "reward.py"}},
      {"  a   b\tc\n", {"a", "b", "c"}},
      {"a 'b c' d", {"a", "b c", "d"}},
      {"a \"b c\" d", {"a", "b c", "d"}},
      {"a\\ b", {"a b"}},
      {"'it'\\''s'", {"it's"}},
      {"\"say \\\"hi\\\"\"", {"say \"hi\""}},
      {"\"a\\nb\"", {"a\\nb"}},  // inside "", a backslash before n stays
      {"'a\\nb'", {"a\\nb"}},    // inside '', everything is literal
      {"x '' y", {"x", "", "y"}},
      {"pre'mid'post", {"premidpost"}},
      {"$HOME *.py", {"$HOME", "*.py"}},  // no expansion
      {"a|b;c", {"a|b;c"}},               // no operators
      {"'a \"b\" \\n'", {"a \"b\" \\n"}},
      {"\"\\\" \\\\ \\$ \\` \\n\"", {"\" \\ $ ` \\n"}},  // "..." escapes only \" \\ \$ \`
      {"\\'x\\\"", {"'x\""}},
      {"a'b'\"c\"d", {"abcd"}},
      {"echo $HOME *.py a|b ; #c", {"echo", "$HOME", "*.py", "a|b", ";", "#c"}},
      {"a\\\nb", {"ab"}},  // backslash-newline removed
      {"\"a\\\nb\"", {"ab"}},
  };
  for (const auto& [line, words] : table) EXPECT_EQ(split_command_words(line), words) << line;
}

TEST(CommandLine, ErrorsQuoteTheLine) {
  for (const std::string bad : {"python3 'open", "say \"open", "trailing\\", "", "   "}) {
    try {
      split_command_words(bad);
      ADD_FAILURE() << "no error for [" << bad << "]";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("command line '" + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(CommandLine, JoinSplitsBackToTheSameWords) {
  const std::vector<Words> cases = {{"python3", "x.py", "--n=3"},
                                    {"sh", "-c", "echo 'hi there'; exit 1"},
                                    {"a b", "", "it's", "$x", "\\"}};
  for (const Words& w : cases) EXPECT_EQ(split_command_words(join_command_words(w)), w);
  EXPECT_EQ(join_command_words({"python3", "my script.py"}), "python3 'my script.py'");
}

}  // namespace
}  // namespace popo
