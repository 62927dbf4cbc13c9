// Internal to projections/: the libpqxx adapter. Opens connections and converts
// libpqxx exceptions into Status at this boundary, so no exception leaves projections/.
//
//   NEBU_ASSIGN_OR_RETURN(auto conn, pg::Connect(url));
//   NEBU_RETURN_IF_ERROR(pg::Run([&] { pqxx::work tx(*conn); ...; tx.commit(); }));
//
// Error mapping: a lost or refused connection (pqxx::broken_connection, and a commit
// whose outcome is unknown) is kUnavailable: retry later. Any other SQL error is
// kIoError with the server's message; anything else kInternal. Messages never contain
// the connection URL (it may hold a password).
//
// Thread-safety: a pqxx::connection belongs to one thread at a time.
#pragma once

#include <pqxx/pqxx>

#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::projections::pg {

inline constexpr int kConnectTimeoutSeconds = 5;

// Opens a connection (libpq URL or key=value string), with a connect timeout added
// unless the string sets one.
[[nodiscard]] Result<std::unique_ptr<pqxx::connection>> Connect(const std::string& url);

// Connect for the projector's writers (events, search): the session runs with
// synchronous_commit = off. A commit need not wait for its WAL flush because each
// transaction carries its own checkpoint: a commit PostgreSQL loses in a crash loses its
// checkpoint with it, and the entries are projected again. Exactly-once holds.
[[nodiscard]] Result<std::unique_ptr<pqxx::connection>> ConnectProjector(const std::string& url);

// The Status for the exception being handled (call from a catch block).
Status FromCurrentException(std::string_view what);

// Runs fn, converting any exception it throws.
template <typename Fn>
[[nodiscard]] Status Run(std::string_view what, Fn&& fn) {
  try {
    fn();
    return Status::Ok();
  } catch (...) {
    return FromCurrentException(what);
  }
}

// A text column that may be NULL, for pqxx::stream_to rows (COPY): null when value
// is nullptr. The pointee must outlive the row's insertion.
struct NullableText {
  const std::string* value = nullptr;
};

}  // namespace nebu::projections::pg

namespace pqxx {
template <>
struct string_traits<nebu::projections::pg::NullableText> {
  using T = nebu::projections::pg::NullableText;
  static constexpr const char* name() noexcept { return "NullableText"; }
  static constexpr bool has_null() noexcept { return true; }
  static bool is_null(const T& v) { return v.value == nullptr; }
  static T null() { return {}; }
  static void from_string(const char[], T&) { throw std::logic_error("NullableText is write-only"); }
  static std::string to_string(const T& v) { return *v.value; }
};
}  // namespace pqxx
