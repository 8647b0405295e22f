# Warning policy for project code: -Wall -Wextra -Werror. Third-party include directories
# arrive through imported targets, which CMake marks SYSTEM, so their warnings stay out.
function(ovseg_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# ovseg_library(NAME SRCS ... DEPS ...): one static library with the project's options.
function(ovseg_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  ovseg_target_options(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# ovseg_use_torch_pch(target): compile the target against the shared LibTorch precompiled
# header of ovseg_model_runtime (model/CMakeLists.txt). Saves ~20 s per translation unit.
function(ovseg_use_torch_pch target)
  target_precompile_headers(${target} REUSE_FROM ovseg_model_runtime)
endfunction()

# ovseg_unity_build(TARGET BATCH): compile TARGET's sources BATCH files per translation
# unit. Even with the shared PCH a LibTorch file costs ~18 s on 2 cores, most of it fixed
# per translation unit, so the model libraries are built as a few unity files (sources
# must not repeat names in their anonymous namespaces).
function(ovseg_unity_build target batch)
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${batch})
endfunction()

# ovseg_test(NAME SRCS ... DEPS ... LABELS ... [TORCH]): a GoogleTest binary registered with
# ctest. TORCH: the sources include LibTorch headers, so they reuse the shared PCH and build
# as one unity file (test files must not repeat names in their anonymous namespaces).
function(ovseg_test name)
  cmake_parse_arguments(ARG "TORCH" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  ovseg_target_options(${name})
  if(ARG_TORCH)
    ovseg_use_torch_pch(${name})
    # Several LibTorch test files compile as one unity file: ~18 s saved per file merged.
    ovseg_unity_build(${name} 8)
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
                       ENVIRONMENT "OVSEG_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
