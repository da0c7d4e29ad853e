#pragma once
// Incremental SHA-256 (OpenSSL EVP), the content hash of media.
//
// Shared by the node (hashing uploads as they stream in) and the client (checking downloads),
// so it lives in its own small library with no other dependency than libcrypto.
// Not thread-safe: one hasher per stream.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tidings::media {

class sha256 {
public:
  sha256();
  ~sha256();
  sha256(sha256&&) noexcept;
  sha256& operator=(sha256&&) noexcept;

  /// Adds bytes to the hash.
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  /// Ends the hash and returns it as 64 lowercase hex digits; the hasher then starts over.
  std::string hex_digest();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// True if `text` looks like a hash: 64 lowercase hex digits.
bool is_hash(std::string_view text);

} // namespace tidings::media
