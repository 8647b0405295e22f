// The image files a CLI command names: a file as given, a directory's image files (sorted;
// not recursive), or a glob pattern ("images/*.jpg", quoted so that the shell leaves it)
// expanded and sorted. Order: the arguments' order, each expanded in place; a file named
// twice is kept once. Pure function apart from reading the file system; thread-safe.
#ifndef OVSEG_CLIENT_IMAGE_INPUTS_H_
#define OVSEG_CLIENT_IMAGE_INPUTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ovseg {

// NOT_FOUND naming the argument when one matches no image file (a path that does not
// exist, an empty directory, a glob that matches nothing).
absl::StatusOr<std::vector<std::string>> ExpandImageInputs(const std::vector<std::string>& args);

// Whether `path` ends in an image extension the server decodes (jpg, jpeg, png, webp, bmp,
// tif, tiff; any case).
bool HasImageExtension(const std::string& path);

}  // namespace ovseg

#endif  // OVSEG_CLIENT_IMAGE_INPUTS_H_
