# Declarative helpers: module CMakeLists are plain lists of these calls.
#
#   nebu_library(NAME nebu_event SOURCES a.cpp b.cpp DEPS nebu_common Boost::json)
#   nebu_test(NAME event_test SOURCES x_test.cpp DEPS nebu_event)       # one binary per module
#   nebu_test(NAME t SOURCES ... ARGS --gtest_filter=-Slow.*)   # ARGS: extra arguments of its ctest
#   nebu_fuzzer(NAME fuzz_canonical_json SOURCE f.cpp DEPS nebu_event CORPUS corpus/canonical_json)
#   nebu_bench(NAME bench_room_log SOURCES b.cpp DEPS nebu_storage)

set(NEBU_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
    -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
    -Wno-missing-field-initializers)  # designated initializers rely on member defaults
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 reports false positives in libstdc++ and Boost headers at -O2.
  list(APPEND NEBU_WARNINGS -Wno-null-dereference -Wno-maybe-uninitialized -Wno-restrict
       -Wno-array-bounds -Wno-stringop-overflow -Wno-dangling-reference)
endif()
if(NEBU_WERROR)
  list(APPEND NEBU_WARNINGS -Werror)
endif()

# Debug information: RelWithDebInfo (the default build type) keeps line tables only
# (-g1): backtraces and sanitizer reports still name file:line, while compiling takes
# a quarter to a third less CPU and objects are a third to a quarter the size (measured:
# tests/api/sync/sync_test.cpp 22.9 -> 17.5 CPU-s, 12 -> 3 MB; engine/accounts/apply.cpp
# 14.0 -> 9.2 CPU-s, 7.8 -> 2.7 MB). Full -g:
# -DNEBU_FULL_DEBUG_INFO=ON, or CMAKE_BUILD_TYPE=Debug. The later -g1 overrides the
# build type's -g.
option(NEBU_FULL_DEBUG_INFO "Full debug information (-g) in RelWithDebInfo builds" OFF)

function(nebu_debug_info target)  # for targets made without the helpers below
  if(NOT NEBU_FULL_DEBUG_INFO)
    target_compile_options(${target} PRIVATE $<$<CONFIG:RelWithDebInfo>:-g1>)
  endif()
endfunction()

# Precompiled headers (NEBU_PCH, top-level CMakeLists.txt; scripts/test.sh turns it on
# in CI, the container build too). Two, each compiled once and reused (REUSE_FROM) by
# every target of its kind:
#   cmake/lib_pch.h   libraries, the nebu binary, benchmarks: the standard library,
#                     Boost.JSON, RocksDB, spdlog (owner: nebu_lib_pch)
#   cmake/test_pch.h  tests: lib_pch.h plus gtest and rapidcheck (owner: nebu_test_pch)
# A .gch fits only a file compiled with the flags and macros it was made with, so with
# NEBU_PCH every target compiles with -pthread (it defines _REENTRANT, which gRPC brings
# to some) and with the compile definitions of spdlog and Boost.JSON (spdlog's
# SPDLOG_COMPILED_LIB decides whether <spdlog/spdlog.h> carries its implementation).
# Should a file's flags still not fit, g++ says so (-Winvalid-pch, kept a warning) and
# parses the headers itself: slower, never wrong. Never with NEBU_FUZZ (clang's fuzz
# build) or NEBU_SANITIZE.
set(_NEBU_TEST_LIBS rapidcheck rapidcheck_gtest GTest::gtest GTest::gmock Boost::json)
set(_NEBU_PCH_LIBS spdlog::spdlog Boost::json)

function(_nebu_pch_flags target)
  target_compile_options(${target} PRIVATE -pthread -Wno-error=invalid-pch)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # With the standard headers precompiled, g++ 12 reports its -Wstringop-overread false
    # positive on std::string moves inlined from them (engine/rooms/auth_rules.cpp).
    target_compile_options(${target} PRIVATE -Wno-stringop-overread)
  endif()
  foreach(lib IN LISTS _NEBU_PCH_LIBS)
    target_compile_definitions(${target} PRIVATE
      $<TARGET_PROPERTY:${lib},INTERFACE_COMPILE_DEFINITIONS>)
  endforeach()
  # fmt's and Boost.Container's definitions come through spdlog and Boost.JSON's links.
  target_compile_definitions(${target} PRIVATE
    $<TARGET_PROPERTY:fmt::fmt,INTERFACE_COMPILE_DEFINITIONS>
    $<TARGET_PROPERTY:Boost::container,INTERFACE_COMPILE_DEFINITIONS>)
endfunction()

function(_nebu_pch target kind)  # kind: lib or test
  if(NOT NEBU_PCH OR NEBU_FUZZ OR NEBU_SANITIZE)
    return()
  endif()
  _nebu_pch_flags(${target})
  if(NOT TARGET nebu_${kind}_pch)
    add_library(nebu_${kind}_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/${kind}_pch.cpp)
    _nebu_common_flags(nebu_${kind}_pch)
    _nebu_pch_flags(nebu_${kind}_pch)
    if(kind STREQUAL "test")
      target_link_libraries(nebu_test_pch PRIVATE ${_NEBU_TEST_LIBS})
    endif()
    target_precompile_headers(nebu_${kind}_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/${kind}_pch.h)
  endif()
  target_precompile_headers(${target} REUSE_FROM nebu_${kind}_pch)
endfunction()

# Unity builds (NEBU_UNITY, top-level CMakeLists.txt; on in CI through scripts/test.sh,
# and always in the container build and scripts/fuzz.sh): the sources of each library,
# binary and test target compile in batches of NEBU_UNITY_BATCH files, one translation
# unit each, so the headers they share are parsed, and their inline functions and
# templates compiled, once per batch instead of once per file. The rule this puts on the
# code: a file-local name (anonymous namespace, `static`) must not be defined by another
# file of the same target, and no .cpp says `using namespace` at namespace scope (a
# function may). The build catches a clash. g++ reports -Wsubobject-linkage for an
# anonymous-namespace type inside a named one once the .cpp is included by the batch
# file (the warning is meant for headers): off in unity builds.
function(_nebu_unity target)
  if(NOT NEBU_UNITY)
    return()
  endif()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON
                                             UNITY_BUILD_BATCH_SIZE ${NEBU_UNITY_BATCH})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
  endif()
endfunction()

function(_nebu_common_flags target)
  _nebu_unity(${target})
  target_compile_options(${target} PRIVATE ${NEBU_WARNINGS})
  nebu_debug_info(${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  if(NEBU_SANITIZE OR NEBU_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(NEBU_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

function(_nebu_common target)  # KIND test: the tests' precompiled header, else the libraries'
  cmake_parse_arguments(A "" "KIND" "" ${ARGN})
  _nebu_common_flags(${target})
  if(A_KIND STREQUAL "test")
    _nebu_pch(${target} test)
  else()
    _nebu_pch(${target} lib)
  endif()
endfunction()

function(nebu_library)
  cmake_parse_arguments(A "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${A_NAME} STATIC ${A_SOURCES})
  _nebu_common(${A_NAME})
  target_link_libraries(${A_NAME} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
endfunction()

function(nebu_test)
  cmake_parse_arguments(A "" "NAME" "SOURCES;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${A_NAME} ${A_SOURCES})
  _nebu_common(${A_NAME} KIND test)
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} ${_NEBU_TEST_LIBS} GTest::gtest_main)
  add_test(NAME ${A_NAME} COMMAND ${A_NAME} --gtest_brief=1 ${A_ARGS}
           WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  if(A_LABELS)
    set_tests_properties(${A_NAME} PROPERTIES LABELS "${A_LABELS}")
  endif()
endfunction()

# A fuzz target defines LLVMFuzzerTestOneInput. With NEBU_FUZZ (clang) it links libFuzzer;
# otherwise it links a replay driver and its corpus runs as a ctest.
function(nebu_fuzzer)
  cmake_parse_arguments(A "" "NAME;SOURCE;CORPUS" "DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SOURCE})
  _nebu_common(${A_NAME})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  if(NEBU_FUZZ)
    target_compile_options(${A_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_options(${A_NAME} PRIVATE -fsanitize=fuzzer)
  else()
    target_link_libraries(${A_NAME} PRIVATE nebu_fuzz_replay)
    add_test(NAME ${A_NAME}_corpus COMMAND ${A_NAME} ${CMAKE_CURRENT_SOURCE_DIR}/${A_CORPUS})
  endif()
endfunction()

# Every benchmark is also a dependency of the target `benches`. With NEBU_BENCH_IN_ALL=OFF
# (scripts/test.sh in CI, which builds them in the background beside the tests) `all`
# leaves them out.
function(nebu_bench)
  cmake_parse_arguments(A "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SOURCES})
  _nebu_common(${A_NAME})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  if(NOT TARGET benches)
    add_custom_target(benches)
  endif()
  add_dependencies(benches ${A_NAME})
  if(NOT NEBU_BENCH_IN_ALL)
    set_target_properties(${A_NAME} PROPERTIES EXCLUDE_FROM_ALL TRUE)
  endif()
endfunction()
