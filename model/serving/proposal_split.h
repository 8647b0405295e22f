// One generated proposal per object: a proposal whose mask draws several separate large
// pieces is served as one proposal per piece.
//
// The demo's tiny Mask2Former often gives two look-alike things (a white dotted heart
// and a white dotted circle across the image) one query: its pixel embeddings carry
// little position, so the query takes both (docs/results.md, "Merged instances": 66 of
// the 73 things its proposals miss on 200 validation images). The pieces of such a
// proposal are apart in the image, so splitting them recovers both things as proposals,
// and each is then classified from its own crop and mask tokens.
//
// Thread-compatible, stateless; CPU tensors in, CPU tensors out.
#ifndef OVSEG_MODEL_SERVING_PROPOSAL_SPLIT_H_
#define OVSEG_MODEL_SERVING_PROPOSAL_SPLIT_H_

#include <torch/torch.h>

namespace ovseg {

struct SplitProposals {
  torch::Tensor logits;      // [M, H, W] float
  torch::Tensor objectness;  // [M] float: each piece keeps its proposal's score
};

// logits: [N, H, W] float mask logits on the CPU (inside = logit > 0), best first;
// objectness: [N] float. A proposal with two or more 8-connected pieces of at least
// `min_fraction` x its largest piece's pixels becomes one proposal per such piece, in
// place (pieces in raster order of their first pixel): the piece's logits are the
// proposal's with every pixel of its other pieces, and of its stray smaller components,
// set to at most -10 (its soft edge around the piece stays). Other proposals pass
// unchanged. At most `max_proposals` come out, the first ones in that order.
// min_fraction in (0, 1].
SplitProposals SplitProposalPieces(const torch::Tensor& logits, const torch::Tensor& objectness,
                                   double min_fraction, int64_t max_proposals);

}  // namespace ovseg

#endif  // OVSEG_MODEL_SERVING_PROPOSAL_SPLIT_H_
