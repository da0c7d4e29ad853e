// The chat's line editor, fed bytes as a terminal in raw mode sends them.

#include <doctest/doctest.h>

#include "tools/line_editor.hpp"

using tidings::cli::fit_columns;
using tidings::cli::line_editor;
using result = line_editor::result;

namespace {

result feed(line_editor& e, const std::string& bytes) {
  auto last = result::nothing;
  for (char c : bytes)
    last = e.feed(c);
  return last;
}

} // namespace

TEST_CASE("the line editor ends a line on Enter and removes whole characters on Backspace") {
  line_editor e;
  CHECK(feed(e, "\r") == result::nothing); // an empty line is not sent
  CHECK(feed(e, "héllo") == result::edited);
  CHECK(feed(e, "\x7f\x7f\x7f\x7f") == result::edited);
  CHECK(e.text() == "h");
  CHECK(feed(e, "ï\r") == result::line);
  CHECK(e.take() == "hï");
  CHECK(e.text().empty());
}

TEST_CASE("the line editor clears with Ctrl-U, drops a word with Ctrl-W and skips escapes") {
  line_editor e;
  feed(e, "one two  ");
  CHECK(feed(e, "\x17") == result::edited);
  CHECK(e.text() == "one ");
  feed(e, "\x1b[1;5D\x1bOAx\x01\t");
  CHECK(e.text() == "one x");
  CHECK(feed(e, "\x15") == result::edited);
  CHECK(e.text().empty());
}

TEST_CASE("the line editor quits on Ctrl-C, and on Ctrl-D only when the line is empty") {
  line_editor e;
  feed(e, "a");
  CHECK(e.feed('\x04') == result::nothing);
  CHECK(e.feed('\x03') == result::quit);
  line_editor empty;
  CHECK(empty.feed('\x04') == result::quit);
}

TEST_CASE("fit_columns keeps whole code points from either end") {
  CHECK(fit_columns("abcdef", 3, false) == "abc");
  CHECK(fit_columns("abcdef", 3, true) == "def");
  CHECK(fit_columns("äöüß", 2, true) == "üß");
  CHECK(fit_columns("äöüß", 2, false) == "äö");
  CHECK(fit_columns("ab", 5, true) == "ab");
}
