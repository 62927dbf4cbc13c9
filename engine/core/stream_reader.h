// The one reader of the node-wide change stream (Cf::kStream, storage/stream_entry.h):
// /sync's window, /keys/changes and the PostgreSQL projector (projections::StreamReader,
// which resolves entries on top) all iterate the stream and decode its entries here.
//
//   const core::Snapshot snap = engine.Read();
//   NEBU_RETURN_IF_ERROR(core::ScanStream(snap, since, snap.position(),
//       [&](StreamPosition position, const storage::StreamEntry& entry) {
//         ...;
//         return true;  // false stops
//       }));
//
// Read through a snapshot and bound the scan at its position() (core/snapshot.h): the
// snapshot holds every entry up to there, so the scan sees a dense, complete prefix.
//
// Thread-safety: pure reads through the view; safe from any thread.
#pragma once

#include <functional>
#include <optional>

#include "engine/common/status.h"
#include "engine/storage/keys.h"
#include "engine/storage/read_view.h"
#include "engine/storage/stream_entry.h"

namespace nebu::core {

using StreamVisitor =
    std::function<bool(storage::StreamPosition position, const storage::StreamEntry& entry)>;

// Visits the entries at positions in (after, upto] in order (upto nullopt: to the end
// of the view's stream) until visit returns false. kCorruption for a malformed key or
// entry (the message names the position); storage errors as kIoError.
[[nodiscard]] Status ScanStream(const storage::ReadView& view, storage::StreamPosition after,
                                std::optional<storage::StreamPosition> upto,
                                const StreamVisitor& visit);

// The last position in the view's stream (0 for an empty stream).
[[nodiscard]] Result<storage::StreamPosition> StreamHead(const storage::ReadView& view);

}  // namespace nebu::core
