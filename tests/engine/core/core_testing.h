// Shared by the core_test files (tests/engine/core): the users their commands name.
#pragma once

namespace nebu::core {

inline constexpr const char* kAlice = "@alice:localhost";  // usually the room's creator
inline constexpr const char* kBob = "@bob:localhost";

}  // namespace nebu::core
