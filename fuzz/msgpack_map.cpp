// Fuzz target `msgpack_map`: the first 8 bytes are a seq, the rest a stored inbox item. Stored
// items are written by the node, not by clients, but in a cluster they also arrive from other
// nodes; nothing may crash on them, and a well-formed map must come out with `seq` added.

#include <cstring>
#include <string_view>

#include <msgpack.hpp>

#include "fuzz/targets.hpp"
#include "net/codec.hpp"
#include "net/frames.hpp"
#include "net/msgpack_map.hpp"

namespace tidings::fuzz {

int msgpack_map(const uint8_t* data, std::size_t size) {
  using namespace tidings::net;
  if (size < 8)
    return 0;
  uint64_t seq = 0;
  std::memcpy(&seq, data, 8);
  std::string_view item{reinterpret_cast<const char*>(data + 8), size - 8};

  auto built = msgpack_map_builder{item}.add("mid", "m-1").add("ts", int64_t{-5}).finish();
  auto pushed = push_frame(encoding::msgpack, item, seq);
  auto pushed_json = push_frame(encoding::json, item, seq);

  auto original = decode(item, encoding::msgpack, nullptr);
  if (!original || original->contains("seq") || original->contains("mid") ||
      original->contains("ts"))
    return 0;
  // A well-formed map (without the added keys) gets exactly the added pairs. Checked with
  // msgpack-c itself: the codec's limits (at most 1024 pairs) are for client frames.
  require(built.has_value(), "a decodable map is taken");
  auto pairs = msgpack::unpack(item.data(), item.size()).get().via.map.size;
  auto stamped_handle = msgpack::unpack(built->data(), built->size());
  const auto& stamped = stamped_handle.get();
  require(stamped.type == msgpack::type::MAP && stamped.via.map.size == pairs + 2,
          "the stamped map has the added pairs");
  require(stamped.via.map.ptr[0].key.as<std::string>() == "mid" &&
              stamped.via.map.ptr[0].val.as<std::string>() == "m-1" &&
              stamped.via.map.ptr[1].val.as<int64_t>() == -5,
          "the added pairs come first");
  require(pushed && pushed_json, "a decodable map is pushed");
  auto push_handle = msgpack::unpack(pushed->data(), pushed->size());
  const auto& push = push_handle.get();
  require(push.type == msgpack::type::MAP && push.via.map.size == pairs + 1 &&
              push.via.map.ptr[0].val.as<uint64_t>() == seq,
          "the msgpack push carries the seq");
  auto push_json = decode(*pushed_json, encoding::json, nullptr);
  require(push_json && push_json->value("seq", uint64_t{0}) == seq,
          "the JSON push carries the seq");
  return 0;
}

} // namespace tidings::fuzz
