// CommandFields: a strict reader of the fields of one command payload (a JSON
// object), shared by the command decoders (engine/accounts, engine/e2ee). Each read
// checks presence and type; Finish() refuses an object with a field nobody read, so
// a payload a newer version wrote with extra fields is never half-applied.
//
//   CommandFields f(object, "account command");
//   NEBU_ASSIGN_OR_RETURN(std::string user_id, f.String("user_id"));
//   NEBU_ASSIGN_OR_RETURN(auto name, f.OptionalString("display_name"));
//   NEBU_RETURN_IF_ERROR(f.Finish());
//
// Errors are kBadJson naming the command kind (`what`) and the field.
// Thread-safety: a value for one decode on one thread; it refers to the object.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::event {

class CommandFields {
 public:
  // `already_read`: fields the caller consumed itself (e.g. a dispatching "op").
  CommandFields(const boost::json::object& o, std::string_view what, size_t already_read = 0)
      : o_(o), what_(what), used_(already_read) {}

  Result<std::string> String(std::string_view key) {
    NEBU_ASSIGN_OR_RETURN(const boost::json::value* v, Required(key));
    if (!v->is_string()) return Mistyped(key);
    return std::string(v->get_string());
  }
  Result<std::optional<std::string>> OptionalString(std::string_view key) {
    if (!o_.contains(key)) return std::optional<std::string>();
    NEBU_ASSIGN_OR_RETURN(std::string s, String(key));
    return std::optional<std::string>(std::move(s));
  }
  Result<bool> Bool(std::string_view key) {
    NEBU_ASSIGN_OR_RETURN(const boost::json::value* v, Required(key));
    if (!v->is_bool()) return Mistyped(key);
    return v->get_bool();
  }
  Result<int64_t> Int(std::string_view key) {
    NEBU_ASSIGN_OR_RETURN(const boost::json::value* v, Required(key));
    if (!v->is_int64()) return Mistyped(key);
    return v->get_int64();
  }
  Result<uint64_t> Unsigned(std::string_view key) {
    NEBU_ASSIGN_OR_RETURN(int64_t v, Int(key));
    if (v < 0) return Mistyped(key);
    return static_cast<uint64_t>(v);
  }
  Result<const boost::json::object*> Object(std::string_view key) {
    NEBU_ASSIGN_OR_RETURN(const boost::json::value* v, Required(key));
    if (!v->is_object()) return Mistyped(key);
    return &v->get_object();
  }
  Result<std::optional<boost::json::object>> OptionalObject(std::string_view key) {
    if (!o_.contains(key)) return std::optional<boost::json::object>();
    NEBU_ASSIGN_OR_RETURN(const boost::json::object* o, Object(key));
    return std::optional<boost::json::object>(*o);
  }
  Result<const boost::json::array*> Array(std::string_view key) {
    NEBU_ASSIGN_OR_RETURN(const boost::json::value* v, Required(key));
    if (!v->is_array()) return Mistyped(key);
    return &v->get_array();
  }
  bool Has(std::string_view key) const { return o_.contains(key); }
  // kBadJson when the object has a field no read asked for.
  // The field's value, whatever its type (null included); kBadJson when absent.
  Result<const boost::json::value*> Value(std::string_view key) { return Required(key); }
  Status Finish() const {
    if (used_ != o_.size()) return Status::BadJson(what_ + " has an unknown field");
    return Status::Ok();
  }

 private:
  Result<const boost::json::value*> Required(std::string_view key) {
    const boost::json::value* v = o_.if_contains(key);
    if (v == nullptr) return Status::BadJson(what_ + " lacks \"" + std::string(key) + "\"");
    ++used_;
    return v;
  }
  Status Mistyped(std::string_view key) const {
    return Status::BadJson(what_ + " field \"" + std::string(key) + "\" has a wrong type");
  }

  const boost::json::object& o_;
  std::string what_;
  size_t used_;
};

}  // namespace nebu::event
