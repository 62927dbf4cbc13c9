// The precompiled header of nebu's libraries and binaries (NEBU_PCH, cmake/NebuHelpers.cmake):
// the third-party and standard headers that most of nebu's files include. Parsing them
// costs a library file 2 to 4 CPU-seconds (measured with g++ 12: <rocksdb/db.h> 1.7,
// <boost/json.hpp> 1.5, <spdlog/spdlog.h> 1.2, the standard headers about 1) of the 7
// to 9 it takes to compile; parsed once, that is paid once per build. Only stable
// system headers belong here (a change here rebuilds everything); a file still includes
// what it uses. Never Boost.Beast or Asio: they stay confined to a few files of api/.
#pragma once

#include <boost/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>
