#pragma once
// MessagePack without a json DOM, for the hot path.
//
// `msgpack_writer` appends values to a string in the smallest forms, exactly as msgpack-c packs
// them (so a map written with keys in json's order has the bytes `net::encode` gives it).
//
// `msgpack_map_builder` adds fields to a MessagePack map without decoding it: the hot path
// stamps stored messages (`type`, `mid`, `from`, `ts`) and pushed items (`seq`) this way,
// instead of a decode into a json DOM and an encode back.
//
// The new pairs come first, then the map's own pairs, byte for byte. The caller guarantees
// the map holds none of the new keys (msgpack maps may not repeat keys).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tidings::net {

class msgpack_writer {
public:
  explicit msgpack_writer(std::string& out) : out_(out) {}
  msgpack_writer& map(uint32_t pairs);
  msgpack_writer& array(uint32_t elements);
  msgpack_writer& str(std::string_view text);
  msgpack_writer& bin(std::string_view bytes);
  msgpack_writer& uint(uint64_t value);
  msgpack_writer& integer(int64_t value);
  msgpack_writer& boolean(bool value);
  msgpack_writer& nil();

private:
  void header(unsigned char tag, uint64_t n, int bytes);
  std::string& out_;
};

class msgpack_map_builder {
public:
  /// Starts from `map`, a complete msgpack map (anything else: ok() is false).
  explicit msgpack_map_builder(std::string_view map);

  bool ok() const { return ok_; }
  msgpack_map_builder& add(std::string_view key, std::string_view text);
  msgpack_map_builder& add(std::string_view key, int64_t value);
  msgpack_map_builder& add(std::string_view key, uint64_t value);
  /// The map with the added pairs; nullopt if the input was not a map.
  std::optional<std::string> finish() const;

private:
  std::string_view body_; ///< the pairs of the original map
  uint32_t count_ = 0;    ///< pairs of the original map
  std::string added_;
  uint32_t added_count_ = 0;
  bool ok_ = false;
};

} // namespace tidings::net
