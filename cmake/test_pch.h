// The precompiled header of every test binary (NEBU_PCH, cmake/NebuHelpers.cmake):
// the third-party and standard headers that most tests include. Parsing gtest,
// rapidcheck and Boost.JSON costs each test file several CPU-seconds; parsed once,
// the cost is paid once per build. Only stable system headers belong here (a change
// here rebuilds every test); a test file still includes what it uses.
#pragma once

#include "cmake/lib_pch.h"  // what the libraries precompile, so tests share it too

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>
