// Minimum-cost bipartite matching (the linear sum assignment problem), as Mask2Former's
// Hungarian matcher needs it: rows (e.g. ground-truth segments) and columns (queries) of
// a cost matrix, every row of the smaller side matched to a distinct partner with the
// least total cost. Same contract as scipy.optimize.linear_sum_assignment. LibTorch-free.
#ifndef OVSEG_MODEL_MATCHING_LINEAR_ASSIGNMENT_H_
#define OVSEG_MODEL_MATCHING_LINEAR_ASSIGNMENT_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ovseg {

struct Assignment {
  // min(rows, cols) pairs, sorted by row: rows[k] is matched to cols[k].
  std::vector<int64_t> rows;
  std::vector<int64_t> cols;
  double total_cost = 0.0;
};

// `cost` is row-major [rows x cols]. Every entry must be finite (a NaN or infinite cost is
// an INVALID_ARGUMENT naming its position). O(min^2 * max) time: shortest augmenting paths
// with potentials (Jonker-Volgenant style); 100 targets x 200 queries take ~1 ms.
absl::StatusOr<Assignment> SolveLinearAssignment(absl::Span<const double> cost, int64_t rows,
                                                 int64_t cols);

}  // namespace ovseg

#endif  // OVSEG_MODEL_MATCHING_LINEAR_ASSIGNMENT_H_
