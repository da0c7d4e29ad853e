#pragma once
// The input side of `tidings-cli chat`: a terminal put into raw mode for as long as a
// raw_terminal lives, and a line_editor that turns the bytes typed into lines.
//
// The editor knows no terminal: it is fed bytes and answers what they mean, so it is tested
// without one. It edits at the end of the line only (no cursor movement): printable characters
// (UTF-8 passes through), Backspace removes the last character (a whole code point), Ctrl-U the
// whole line, Ctrl-W the last word, Enter ends a line, Ctrl-C quits, Ctrl-D quits on an empty
// line. Escape sequences (arrow and function keys) and other control characters are dropped,
// so nothing typed can reach the line as a control character. A line holds at most
// max_line_bytes (the protocol's limit for a text body); more is dropped.
//
// Why not GNU readline: it owns the terminal and the event loop (its callback interface still
// draws the prompt itself), which fights the incoming messages and status line the chat draws
// between keystrokes; what chat needs of it fits in this small class, with no new dependency.

#include <cstddef>
#include <string>

#include <termios.h>

namespace tidings::cli {

/// Raw mode (no canonical input, no echo, no signals from keys, CR not mapped to NL; output
/// processing kept, so "\n" still starts a new line) on `fd` while this object lives. Does
/// nothing if `fd` is not a terminal.
class raw_terminal {
public:
  explicit raw_terminal(int fd);
  ~raw_terminal();
  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;

  /// True if the terminal was switched (and will be restored).
  bool active() const { return active_; }

  /// The terminal's width in columns (80 if unknown).
  int columns() const;

private:
  int fd_;
  bool active_ = false;
  termios saved_{};
};

class line_editor {
public:
  /// What a byte fed to the editor did.
  enum class result {
    nothing, ///< nothing visible changed (an ignored byte, part of an escape sequence)
    edited,  ///< the line changed: draw it again
    line,    ///< Enter on a non-empty line: take() it
    quit,    ///< Ctrl-C, or Ctrl-D on an empty line
  };

  /// The protocol's limit for a text body (64 KiB).
  static constexpr std::size_t max_line_bytes = 65536;

  result feed(char byte);

  /// The line being typed.
  const std::string& text() const { return text_; }

  /// Returns the finished line and starts an empty one.
  std::string take();

private:
  void erase_last_char();

  std::string text_;
  int escape_ = 0; // 0: none; 1: after ESC; 2: in a CSI sequence (ESC [ ... final byte)
};

/// The number of terminal columns `text` takes, counting each code point as one.
std::size_t display_width(const std::string& text);

/// `text` cut to at most `columns` code points from its end (`from_end`) or its start.
std::string fit_columns(const std::string& text, std::size_t columns, bool from_end);

} // namespace tidings::cli
