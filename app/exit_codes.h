// The exit codes of `nebu` and its subcommands (README, "Commands"): 0 success, 1 the
// command ran and failed (or found a problem: `backup verify`, `cluster verify`), 2 a
// usage error (unknown subcommand or option, missing argument).
#pragma once

namespace nebu::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace nebu::app
