#include "tools/line_editor.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace tidings::cli {

namespace {

constexpr char ctrl_c = 0x03;
constexpr char ctrl_d = 0x04;
constexpr char ctrl_h = 0x08;
constexpr char ctrl_u = 0x15;
constexpr char ctrl_w = 0x17;
constexpr char esc = 0x1b;
constexpr char del = 0x7f;

bool continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

} // namespace

raw_terminal::raw_terminal(int fd) : fd_(fd) {
  if (::isatty(fd_) == 0 || ::tcgetattr(fd_, &saved_) != 0)
    return;
  auto raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
  raw.c_iflag &= ~static_cast<tcflag_t>(ICRNL | IXON);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  active_ = ::tcsetattr(fd_, TCSAFLUSH, &raw) == 0;
}

raw_terminal::~raw_terminal() {
  if (active_)
    ::tcsetattr(fd_, TCSAFLUSH, &saved_);
}

int raw_terminal::columns() const {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

line_editor::result line_editor::feed(char byte) {
  if (escape_ == 1) { // ESC [ starts a CSI sequence; ESC O and ESC x are two-byte keys
    escape_ = byte == '[' ? 2 : byte == 'O' ? 3 : 0;
    return result::nothing;
  }
  if (escape_ == 3) {
    escape_ = 0;
    return result::nothing;
  }
  if (escape_ == 2) { // parameters until the final byte 0x40-0x7e
    if (byte >= 0x40 && byte <= 0x7e)
      escape_ = 0;
    return result::nothing;
  }
  switch (byte) {
  case ctrl_c:
    return result::quit;
  case ctrl_d:
    return text_.empty() ? result::quit : result::nothing;
  case '\r':
  case '\n':
    return text_.empty() ? result::nothing : result::line;
  case del:
  case ctrl_h:
    if (text_.empty())
      return result::nothing;
    erase_last_char();
    return result::edited;
  case ctrl_u:
    if (text_.empty())
      return result::nothing;
    text_.clear();
    return result::edited;
  case ctrl_w: {
    if (text_.empty())
      return result::nothing;
    while (!text_.empty() && text_.back() == ' ')
      text_.pop_back();
    while (!text_.empty() && text_.back() != ' ')
      text_.pop_back();
    return result::edited;
  }
  case esc:
    escape_ = 1;
    return result::nothing;
  default:
    break;
  }
  auto c = static_cast<unsigned char>(byte);
  if (c < 0x20 || text_.size() >= max_line_bytes)
    return result::nothing;
  text_ += byte;
  return result::edited;
}

std::string line_editor::take() {
  std::string line;
  line.swap(text_);
  return line;
}

void line_editor::erase_last_char() {
  while (!text_.empty() && continuation(text_.back()))
    text_.pop_back();
  if (!text_.empty())
    text_.pop_back();
}

std::size_t display_width(const std::string& text) {
  std::size_t n = 0;
  for (char c : text)
    n += continuation(c) ? 0 : 1;
  return n;
}

std::string fit_columns(const std::string& text, std::size_t columns, bool from_end) {
  auto width = display_width(text);
  if (width <= columns)
    return text;
  // The byte offset where code point number `n` starts (the size if there are fewer).
  auto offset_of = [&](std::size_t n) {
    std::size_t seen = 0;
    std::size_t i = 0;
    for (; i < text.size(); ++i)
      if (!continuation(text[i]) && seen++ == n)
        break;
    return i;
  };
  return from_end ? text.substr(offset_of(width - columns)) : text.substr(0, offset_of(columns));
}

} // namespace tidings::cli
