#include "model/matching/linear_assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace ovseg {

absl::StatusOr<Assignment> SolveLinearAssignment(absl::Span<const double> cost, int64_t rows,
                                                 int64_t cols) {
  if (rows < 0 || cols < 0 || static_cast<int64_t>(cost.size()) != rows * cols) {
    return absl::InvalidArgumentError(absl::StrCat("linear assignment: cost has ", cost.size(),
                                                   " entries for a ", rows, "x", cols, " matrix"));
  }
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(cost[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("linear assignment: cost[", i / cols, "][", i % cols, "] is ", cost[i]));
    }
  }
  Assignment result;
  if (rows == 0 || cols == 0) return result;
  // The algorithm walks the smaller side (n) against the larger (m); transpose if needed.
  const bool transposed = rows > cols;
  const int64_t n = transposed ? cols : rows, m = transposed ? rows : cols;
  auto a = [&](int64_t i, int64_t j) {  // 1-based, in the n x m orientation.
    return transposed ? cost[(j - 1) * cols + (i - 1)] : cost[(i - 1) * cols + (j - 1)];
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // Potentials u (rows), v (columns); match[j] = row matched to column j (0 = free);
  // column 0 is the virtual start of each augmenting path.
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), min_slack(m + 1);
  std::vector<int64_t> match(m + 1, 0), previous(m + 1, 0);
  std::vector<char> visited(m + 1);
  for (int64_t i = 1; i <= n; ++i) {
    match[0] = i;
    int64_t j0 = 0;
    std::fill(min_slack.begin(), min_slack.end(), kInf);
    std::fill(visited.begin(), visited.end(), 0);
    do {  // Dijkstra over reduced costs until a free column is reached.
      visited[j0] = 1;
      const int64_t i0 = match[j0];
      double delta = kInf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= m; ++j) {
        if (visited[j]) continue;
        const double reduced = a(i0, j) - u[i0] - v[j];
        if (reduced < min_slack[j]) {
          min_slack[j] = reduced;
          previous[j] = j0;
        }
        if (min_slack[j] < delta) {
          delta = min_slack[j];
          j1 = j;
        }
      }
      for (int64_t j = 0; j <= m; ++j) {
        if (visited[j]) {
          u[match[j]] += delta;
          v[j] -= delta;
        } else {
          min_slack[j] -= delta;
        }
      }
      j0 = j1;
    } while (match[j0] != 0);
    do {  // Flip the augmenting path.
      const int64_t j1 = previous[j0];
      match[j0] = match[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (row, col) in the caller's orientation
  for (int64_t j = 1; j <= m; ++j) {
    if (match[j] == 0) continue;
    pairs.emplace_back(transposed ? j - 1 : match[j] - 1, transposed ? match[j] - 1 : j - 1);
  }
  std::sort(pairs.begin(), pairs.end());
  for (const auto& [r, c] : pairs) {
    result.rows.push_back(r);
    result.cols.push_back(c);
    result.total_cost += cost[r * cols + c];
  }
  return result;
}

}  // namespace ovseg
