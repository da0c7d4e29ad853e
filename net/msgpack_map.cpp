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

void msgpack_map_builder::put_str(std::string_view s) {
  auto n = s.size();
  if (n < 32) {
    added_ += static_cast<char>(0xA0 | n);
  } else if (n < 256) {
    added_ += static_cast<char>(0xD9);
    put_be(added_, n, 1);
  } else if (n < 65536) {
    added_ += static_cast<char>(0xDA);
    put_be(added_, n, 2);
  } else {
    added_ += static_cast<char>(0xDB);
    put_be(added_, n, 4);
  }
  added_.append(s);
}

void msgpack_map_builder::put_uint(uint64_t v) {
  if (v < 128) {
    added_ += static_cast<char>(v);
  } else if (v <= 0xFFFFFFFFULL) {
    added_ += static_cast<char>(0xCE);
    put_be(added_, v, 4);
  } else {
    added_ += static_cast<char>(0xCF);
    put_be(added_, v, 8);
  }
}

void msgpack_map_builder::put_int(int64_t v) {
  if (v >= 0)
    return put_uint(static_cast<uint64_t>(v));
  added_ += static_cast<char>(0xD3);
  put_be(added_, static_cast<uint64_t>(v), 8);
}

msgpack_map_builder& msgpack_map_builder::add(std::string_view key, std::string_view text) {
  put_str(key);
  put_str(text);
  ++added_count_;
  return *this;
}

msgpack_map_builder& msgpack_map_builder::add(std::string_view key, int64_t value) {
  put_str(key);
  put_int(value);
  ++added_count_;
  return *this;
}

msgpack_map_builder& msgpack_map_builder::add(std::string_view key, uint64_t value) {
  put_str(key);
  put_uint(value);
  ++added_count_;
  return *this;
}

std::optional<std::string> msgpack_map_builder::finish() const {
  if (!ok_)
    return std::nullopt;
  std::string out;
  uint64_t n = uint64_t{count_} + added_count_;
  out.reserve(5 + added_.size() + body_.size());
  if (n < 16) {
    out += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    out += static_cast<char>(0xDE);
    put_be(out, n, 2);
  } else {
    out += static_cast<char>(0xDF);
    put_be(out, n, 4);
  }
  out += added_;
  out.append(body_);
  return out;
}

} // namespace tidings::net
