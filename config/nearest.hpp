#pragma once
// The nearest of some names to a misspelt one, for "did you mean ...?" in error messages.
// Header-only and free of CAF, so every tool can use it.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace tidings::config {

/// Edit distance (optimal string alignment): insertions, deletions, substitutions and swaps
/// of two neighbouring characters cost 1 each, so `rtae` is 1 from `rate`.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      auto cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

/// The candidate nearest to `name` (the first of equally near ones), or "" if there is none.
inline std::string nearest(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  auto best_distance = std::string_view::npos;
  for (const auto& c : candidates) {
    auto d = edit_distance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

} // namespace tidings::config
