// The owner of the libraries' precompiled header (cmake/lib_pch.h): the nebu_lib_pch
// target compiles it once; every other nebu target reuses it (REUSE_FROM).
