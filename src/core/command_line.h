// Command lines as words: splitting a line as a POSIX shell splits it into words, and the
// reverse, for config values (core/config.h's CommandLine) and the command rewards
// (reward/reward_command.h). No expansion of any kind: no variables, globs, `~` or command
// substitution, and no operators (`|`, `;`, `>` are ordinary characters); a command that needs
// them is written as `sh -c '...'`.
#pragma once

#include <string>
#include <vector>

namespace popo {

// Returns the words of line: unquoted whitespace separates words; '...' keeps everything
// literally; "..." keeps everything but lets a backslash escape ", \, $ and ` (before any
// other character the backslash stays); an unquoted backslash makes the next character literal
// (a backslash-newline is dropped). "" and '' make an empty word. Throws popo::Error quoting
// the line on an unterminated quote, a trailing backslash, or a line with no words.
std::vector<std::string> split_command_words(const std::string& line);

// Returns words as one line that split_command_words reads back to the same words: a word is
// written bare when it has only safe characters, in single quotes otherwise.
std::string join_command_words(const std::vector<std::string>& words);

}  // namespace popo
