#include "media/index.hpp"

#include "net/codec.hpp"

namespace tidings::media {

using net::json;

std::string encode(const record& r) {
  return net::encode(json{{"size", r.size},
                          {"mime", r.mime},
                          {"uploader", r.uploader},
                          {"created", r.created},
                          {"used", r.used}},
                     net::encoding::msgpack);
}

std::optional<record> decode_record(std::string_view bytes) {
  auto v = net::decode(bytes, net::encoding::msgpack, nullptr);
  if (!v)
    return std::nullopt;
  try {
    record r;
    r.size = v->at("size").get<uint64_t>();
    r.mime = v->at("mime").get<std::string>();
    r.uploader = v->at("uploader").get<std::string>();
    r.created = v->at("created").get<int64_t>();
    r.used = v->at("used").get<int64_t>();
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<record> read_record(storage::db& db, std::string_view hash, bool* failed) {
  auto bytes = db.get(storage::table::media, hash);
  if (failed != nullptr)
    *failed = bytes.failed();
  if (!bytes.found())
    return std::nullopt;
  return decode_record(bytes.value());
}

bool any_with_prefix(storage::db& db, storage::table t, std::string_view prefix) {
  auto range = prefix_range(prefix);
  bool found = false;
  db.scan(t, range.begin, range.end, 1, [&](std::string_view, std::string_view) {
    found = true;
    return false;
  });
  return found;
}

unused_scan scan_unused(storage::db& db, const std::string& cursor, std::size_t max,
                        int64_t cutoff) {
  unused_scan out;
  std::string last;
  auto st = db.scan(storage::table::media, cursor, std::string(1, '\x7f'), max,
                    [&](std::string_view key, std::string_view value) {
                      ++out.examined;
                      last = std::string{key};
                      auto rec = decode_record(value);
                      if (rec && rec->used < cutoff)
                        out.unused.push_back(last);
                      return true;
                    });
  // A failed scan ends the pass early: the next pass starts over.
  out.pass_done = !st.ok() || out.examined < max;
  out.next_cursor = out.pass_done ? std::string{} : last + '\0';
  return out;
}

storage::answer is_avatar(storage::db& db, std::string_view hash) {
  auto range = prefix_range(hash);
  auto answer = storage::answer::no;
  auto st = db.scan(storage::table::avatars, range.begin, range.end, 1,
                    [&](std::string_view, std::string_view) {
                      answer = storage::answer::yes;
                      return false;
                    });
  return st.ok() ? answer : storage::answer::failed;
}

storage::fetched<std::vector<std::string>> avatar_owners(storage::db& db, std::string_view hash,
                                                          std::size_t max) {
  storage::fetched<std::vector<std::string>> out;
  out.value.emplace();
  auto range = prefix_range(hash);
  auto st = db.scan(storage::table::avatars, range.begin, range.end, max,
                    [&](std::string_view key, std::string_view) {
                      out.value->emplace_back(key.substr(range.begin.size()));
                      return true;
                    });
  out.failed = !st.ok();
  return out;
}

storage::fetched<std::vector<claim>> claims(storage::db& db, std::string_view hash,
                                            std::size_t max) {
  storage::fetched<std::vector<claim>> out;
  out.value.emplace();
  auto range = prefix_range(hash);
  auto st = db.scan(storage::table::media_pending, range.begin, range.end, max,
                    [&](std::string_view key, std::string_view) {
                      // hash \0 recipient \0 be64(seq)
                      auto rest = key.substr(range.begin.size());
                      if (rest.size() < 9 || rest[rest.size() - 9] != '\0')
                        return true; // not a claim's shape: never written by us
                      out.value->push_back(claim{std::string{key},
                                                 std::string{rest.substr(0, rest.size() - 9)},
                                                 storage::from_be64(rest.substr(rest.size() - 8))});
                      return true;
                    });
  out.failed = !st.ok();
  return out;
}

void forget(storage::batch& b, std::string_view hash) {
  b.del(storage::table::media, hash);
  auto readers = prefix_range(hash);
  b.delete_range(storage::table::media_readers, readers.begin, readers.end);
  b.delete_range(storage::table::media_pending, readers.begin, readers.end);
}

} // namespace tidings::media
