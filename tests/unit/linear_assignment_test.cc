// The assignment solver against brute force over every injective matching of small random
// matrices (square, wide, tall, with ties), plus known answers and rejected inputs.
#include "model/matching/linear_assignment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

namespace ovseg {
namespace {

// Least total cost over all ways to match min(rows, cols) rows and columns one to one.
double BruteForce(const std::vector<double>& cost, int rows, int cols) {
  const bool transposed = rows > cols;
  const int n = transposed ? cols : rows, m = transposed ? rows : cols;
  std::vector<int> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  double best = 1e300;
  do {  // The first n entries of each permutation of the m partners.
    double total = 0;
    for (int i = 0; i < n; ++i) {
      total += transposed ? cost[perm[i] * cols + i] : cost[i * cols + perm[i]];
    }
    best = std::min(best, total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(LinearAssignmentTest, MatchesBruteForceOnRandomMatrices) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 490; ++trial) {  // every shape from 1x1 to 7x7, 10 times
    const int rows = 1 + trial % 7, cols = 1 + (trial / 7) % 7;
    std::vector<double> cost(rows * cols);
    // Every fourth matrix draws from few values, so ties are common.
    std::uniform_int_distribution<int> small(0, 3);
    std::normal_distribution<double> normal(0, 10);
    for (double& c : cost) c = trial % 4 == 0 ? small(rng) : normal(rng);
    absl::StatusOr<Assignment> a = SolveLinearAssignment(cost, rows, cols);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_EQ(a->rows.size(), static_cast<size_t>(std::min(rows, cols)));
    EXPECT_NEAR(a->total_cost, BruteForce(cost, rows, cols), 1e-9) << rows << "x" << cols;
    // One to one, rows sorted, total consistent.
    EXPECT_TRUE(std::is_sorted(a->rows.begin(), a->rows.end()));
    EXPECT_EQ(std::set<int64_t>(a->rows.begin(), a->rows.end()).size(), a->rows.size());
    EXPECT_EQ(std::set<int64_t>(a->cols.begin(), a->cols.end()).size(), a->cols.size());
    double total = 0;
    for (size_t k = 0; k < a->rows.size(); ++k) total += cost[a->rows[k] * cols + a->cols[k]];
    EXPECT_NEAR(total, a->total_cost, 1e-9);
  }
}

TEST(LinearAssignmentTest, KnownAnswersAndBadInput) {
  // scipy's documented example: rows [0, 1, 2] -> cols [1, 0, 2], cost 5.
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  absl::StatusOr<Assignment> a = SolveLinearAssignment(cost, 3, 3);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->cols, (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(a->total_cost, 5);
  // Tall: 3 targets, 2 queries; the two cheapest compatible rows win.
  a = SolveLinearAssignment({5, 9, 1, 8, 7, 0}, 3, 2);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->rows, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a->cols, (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(SolveLinearAssignment({}, 0, 5).ok());
  EXPECT_EQ(SolveLinearAssignment({1, 2, 3}, 2, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SolveLinearAssignment({1, NAN, 3, 4}, 2, 2).status().message(),
            "linear assignment: cost[0][1] is nan");
  EXPECT_FALSE(SolveLinearAssignment({1, INFINITY, 3, 4}, 2, 2).ok());
}

TEST(LinearAssignmentTest, LargeMatrixFindsAPlantedOptimum) {
  // 100 targets x 200 queries with a planted cheap matching: the solver must find it.
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> uniform(1, 2);
  std::vector<double> cost(100 * 200);
  for (double& c : cost) c = uniform(rng);
  std::vector<int64_t> planted(200);
  std::iota(planted.begin(), planted.end(), 0);
  std::shuffle(planted.begin(), planted.end(), rng);
  for (int i = 0; i < 100; ++i) cost[i * 200 + planted[i]] = 0.5;
  absl::StatusOr<Assignment> a = SolveLinearAssignment(cost, 100, 200);
  ASSERT_TRUE(a.ok());
  EXPECT_DOUBLE_EQ(a->total_cost, 50.0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a->cols[i], planted[i]);
}

}  // namespace
}  // namespace ovseg
