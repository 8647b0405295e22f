# Every dependency is found here, once. Debian 12 packages provide all but LibTorch, which
# comes from the pinned torch wheel in the repository's .venv (scripts/setup.sh).
find_package(Threads REQUIRED)
# Every translation unit compiles with -pthread (gRPC's targets add it to their users). One
# flag set for all keeps LibTorch's precompiled header valid everywhere: a PCH built
# without _REENTRANT is silently ignored by targets that define it.
add_compile_options(-pthread)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
# libjpeg-turbo: the JPEG fast path decodes straight to RGB (server/image/jpeg_decoder.h).
find_package(JPEG REQUIRED)
# zlib: the CLIP tokenizer reads OpenAI's gzip-compressed BPE vocabulary.
find_package(ZLIB REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(GTest REQUIRED)
# cpp-httplib (Debian's build, with OpenSSL): the HTTP/JSON gateway (server/http/).
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

if(OVSEG_WITH_TORCH)
  if(NOT OVSEG_PYTHON)
    set(OVSEG_PYTHON ${CMAKE_SOURCE_DIR}/.venv/bin/python)
  endif()
  if(NOT EXISTS ${OVSEG_PYTHON})
    message(FATAL_ERROR "No Python with torch at ${OVSEG_PYTHON}; run scripts/setup.sh first "
                        "or pass -DOVSEG_PYTHON=/path/to/python")
  endif()
  execute_process(
    COMMAND ${OVSEG_PYTHON} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE OVSEG_TORCH_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _torch_rc)
  if(NOT _torch_rc EQUAL 0)
    message(FATAL_ERROR "${OVSEG_PYTHON} cannot import torch; run scripts/setup.sh")
  endif()
  list(APPEND CMAKE_PREFIX_PATH ${OVSEG_TORCH_PREFIX})
  # Our own CUDA code targets Hopper first; LibTorch reads its arch list from here.
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0")
  endif()
  find_package(Torch REQUIRED)
  # libtorch_cuda needs the CUDA libraries of the wheel (nvidia/*/lib beside torch), which
  # can be newer than the system toolkit's (NCCL in particular). The loader finds them
  # through libtorch's own RUNPATH; the linker must be pointed at them explicitly, ahead
  # of /usr/local/cuda, to check the same symbols.
  get_filename_component(_site_packages "${OVSEG_TORCH_PREFIX}/../../.." ABSOLUTE)
  file(GLOB _wheel_cuda_libs LIST_DIRECTORIES true "${_site_packages}/nvidia/*/lib")
  foreach(_dir ${_wheel_cuda_libs})
    add_link_options("LINKER:-rpath-link,${_dir}")
  endforeach()
  message(STATUS "LibTorch ${Torch_VERSION} from ${OVSEG_TORCH_PREFIX}")
endif()
