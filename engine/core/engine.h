// Engine: the facade the API layer talks to. It owns the store, the committer, the
// state machine and the notifier of one node.
//
//   NEBU_ASSIGN_OR_RETURN(auto engine, Engine::Open({.data_dir = "./nebu-data",
//                                                     .server_name = "localhost"}));
//   auto created = engine->CreateRoom(request, "@alice:localhost", device, ts);
//
// Every mutation is a Command that goes propose -> commit -> apply; the call returns
// after the command is durable (fsynced on one node, on a quorum later) and applied,
// with the outcome the state machine produced. Reads are served from applied state.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <memory>
#include <string>

#include "engine/common/clock.h"
#include "engine/common/status.h"

namespace nebu::core {

struct EngineOptions {
  std::string data_dir = "./nebu-data";
  std::string server_name = "localhost";
  Clock* clock = nullptr;  // nullptr: SystemClock
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  virtual ~Engine() = default;
  // (The methods are listed in engine_impl / grow with the API issue.)
};

}  // namespace nebu::core
