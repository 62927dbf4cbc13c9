// Status and Result<T>: the one error type of nebu's fallible code.
//
// Every fallible function returns a Status (or a Result<T> holding a value or a
// Status). Both are [[nodiscard]]; a deliberate drop is written `(void)` or
// `IgnoreError()` so it can be found with grep. Only the HTTP layer (api/) maps a
// StatusCode to a Matrix errcode and HTTP status.
//
//   Result<Room> FindRoom(std::string_view id) {
//     if (!IsValidRoomId(id)) return Status::InvalidArgument("bad room id");
//     NEBU_ASSIGN_OR_RETURN(auto number, LookupNumber(id));
//     return Room{number};
//   }
//
// Thread-safety: values; copy freely.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace nebu {

// Codes say what went wrong in domain terms; api/ maps each to an errcode.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,    // a bad parameter or identifier (M_INVALID_PARAM)
  kNotJson,            // the bytes are not JSON at all (M_NOT_JSON)
  kBadJson,            // JSON, but not acceptable: floats, missing keys (M_BAD_JSON)
  kTooLarge,           // over an explicit size limit (M_TOO_LARGE)
  kNotFound,           // no such room, event, user (M_NOT_FOUND)
  kAlreadyExists,      // a user id, alias, or room that is taken (M_USER_IN_USE, ...)
  kInvalidUsername,    // a localpart that breaks the grammar (M_INVALID_USERNAME)
  kForbidden,          // authorization rules or permissions say no (M_FORBIDDEN)
  kUnauthenticated,    // unknown or expired access token (M_UNKNOWN_TOKEN)
  kResourceExhausted,  // rate limit or queue full (M_LIMIT_EXCEEDED)
  kCorruption,         // bytes read back failed verification
  kIoError,            // the disk or the OS failed
  kUnavailable,        // shutting down, not the leader, writes stopped: try again
  kNoSpace,            // the disk is full: writes refused until space returns (507)
  kInternal,           // a bug; never caused by input
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotJson(std::string m) { return {StatusCode::kNotJson, std::move(m)}; }
  static Status BadJson(std::string m) { return {StatusCode::kBadJson, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status InvalidUsername(std::string m) { return {StatusCode::kInvalidUsername, std::move(m)}; }
  static Status Forbidden(std::string m) { return {StatusCode::kForbidden, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: no such room" — for logs and tests.
  std::string ToString() const;
  // Marks a deliberate drop of a Status; searchable.
  void IgnoreError() const {}

  bool operator==(const Status& o) const { return code_ == o.code_ && message_ == o.message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { Check(); return std::get<T>(v_); }
  const T& value() const& { Check(); return std::get<T>(v_); }
  T&& value() && { Check(); return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const {
    if (!ok()) {
      std::fprintf(stderr, "nebu: value() on an error Result: %s\n",
                   std::get<Status>(v_).ToString().c_str());
      std::abort();
    }
  }
  std::variant<T, Status> v_;
};

[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, std::string_view msg);

}  // namespace nebu

// Always-on assertion for invariants (programmer errors), never for bad input.
#define NEBU_CHECK(cond, ...)                                                       \
  do {                                                                              \
    if (!(cond)) [[unlikely]]                                                       \
      ::nebu::CheckFailed(__FILE__, __LINE__, #cond, std::string_view{__VA_ARGS__}); \
  } while (0)

#define NEBU_STATUS_CONCAT_INNER(a, b) a##b
#define NEBU_STATUS_CONCAT(a, b) NEBU_STATUS_CONCAT_INNER(a, b)

#define NEBU_RETURN_IF_ERROR(expr)                  \
  do {                                              \
    ::nebu::Status nebu_status_ = (expr);           \
    if (!nebu_status_.ok()) return nebu_status_;    \
  } while (0)

#define NEBU_ASSIGN_OR_RETURN(lhs, expr) \
  NEBU_ASSIGN_OR_RETURN_IMPL(NEBU_STATUS_CONCAT(nebu_result_, __LINE__), lhs, expr)
#define NEBU_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
