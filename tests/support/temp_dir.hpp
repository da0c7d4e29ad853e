#pragma once
// A fresh directory under the system's temporary folder, removed with everything in it when
// the object goes away. For tests that open their own RocksDB.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tidings::test {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tidings-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

} // namespace tidings::test
