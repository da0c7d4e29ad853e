#include "net/msgpack_map.hpp"

namespace tidings::net {

namespace {

uint32_t be(std::string_view s, std::size_t at, std::size_t n) {
  uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

} // namespace

void msgpack_writer::header(unsigned char tag, uint64_t n, int bytes) {
  out_ += static_cast<char>(tag);
  put_be(out_, n, bytes);
}

msgpack_writer& msgpack_writer::map(uint32_t pairs) {
  if (pairs < 16)
    out_ += static_cast<char>(0x80 | pairs);
  else if (pairs < 65536)
    header(0xDE, pairs, 2);
  else
    header(0xDF, pairs, 4);
  return *this;
}

msgpack_writer& msgpack_writer::array(uint32_t elements) {
  if (elements < 16)
    out_ += static_cast<char>(0x90 | elements);
  else if (elements < 65536)
    header(0xDC, elements, 2);
  else
    header(0xDD, elements, 4);
  return *this;
}

msgpack_writer& msgpack_writer::str(std::string_view text) {
  auto n = text.size();
  if (n < 32)
    out_ += static_cast<char>(0xA0 | n);
  else if (n < 256)
    header(0xD9, n, 1);
  else if (n < 65536)
    header(0xDA, n, 2);
  else
    header(0xDB, n, 4);
  out_.append(text);
  return *this;
}

msgpack_writer& msgpack_writer::bin(std::string_view bytes) {
  auto n = bytes.size();
  if (n < 256)
    header(0xC4, n, 1);
  else if (n < 65536)
    header(0xC5, n, 2);
  else
    header(0xC6, n, 4);
  out_.append(bytes);
  return *this;
}

msgpack_writer& msgpack_writer::uint(uint64_t v) {
  if (v < 128)
    out_ += static_cast<char>(v);
  else if (v < 256)
    header(0xCC, v, 1);
  else if (v < 65536)
    header(0xCD, v, 2);
  else if (v <= 0xFFFFFFFFULL)
    header(0xCE, v, 4);
  else
    header(0xCF, v, 8);
  return *this;
}

msgpack_writer& msgpack_writer::integer(int64_t v) {
  if (v >= 0)
    return uint(static_cast<uint64_t>(v));
  if (v >= -32)
    out_ += static_cast<char>(v);
  else if (v >= -128)
    header(0xD0, static_cast<uint8_t>(v), 1);
  else if (v >= -32768)
    header(0xD1, static_cast<uint16_t>(v), 2);
  else if (v >= INT32_MIN)
    header(0xD2, static_cast<uint32_t>(v), 4);
  else
    header(0xD3, static_cast<uint64_t>(v), 8);
  return *this;
}

msgpack_writer& msgpack_writer::boolean(bool value) {
  out_ += static_cast<char>(value ? 0xC3 : 0xC2);
  return *this;
}

msgpack_writer& msgpack_writer::nil() {
  out_ += static_cast<char>(0xC0);
  return *this;
}

msgpack_map_builder::msgpack_map_builder(std::string_view map) {
  if (map.empty())
    return;
  auto tag = static_cast<unsigned char>(map[0]);
  std::size_t header = 0;
  if ((tag & 0xF0) == 0x80) {
    count_ = tag & 0x0F;
    header = 1;
  } else if (tag == 0xDE && map.size() >= 3) {
    count_ = be(map, 1, 2);
    header = 3;
  } else if (tag == 0xDF && map.size() >= 5) {
    count_ = be(map, 1, 4);
    header = 5;
  } else {
    return;
  }
  body_ = map.substr(header);
  ok_ = true;
}

msgpack_map_builder& msgpack_map_builder::add(std::string_view key, std::string_view text) {
  msgpack_writer{added_}.str(key).str(text);
  ++added_count_;
  return *this;
}

msgpack_map_builder& msgpack_map_builder::add(std::string_view key, int64_t value) {
  msgpack_writer{added_}.str(key).integer(value);
  ++added_count_;
  return *this;
}

msgpack_map_builder& msgpack_map_builder::add(std::string_view key, uint64_t value) {
  msgpack_writer{added_}.str(key).uint(value);
  ++added_count_;
  return *this;
}

std::optional<std::string> msgpack_map_builder::finish() const {
  if (!ok_)
    return std::nullopt;
  std::string out;
  out.reserve(5 + added_.size() + body_.size());
  msgpack_writer{out}.map(count_ + added_count_);
  out += added_;
  out.append(body_);
  return out;
}

} // namespace tidings::net
