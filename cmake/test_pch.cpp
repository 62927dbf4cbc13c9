// The owner of the tests' precompiled header (cmake/test_pch.h): the nebu_test_pch
// target compiles it once; every nebu_test target reuses it (REUSE_FROM).
