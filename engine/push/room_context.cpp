#include "engine/push/room_context.h"

#include <boost/json/parse.hpp>

#include "engine/core/room_reads.h"

namespace nebu::push {
namespace {

namespace json = boost::json;

std::string_view StringOf(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

const json::object* ContentOf(const json::object& event) {
  const json::value* c = event.if_contains("content");
  return c && c->is_object() ? &c->as_object() : nullptr;
}

Result<json::object> ParseContextObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corruption("stored event is not a JSON object");
  return std::move(v.as_object());
}

}  // namespace

Result<RoomContext> RoomContext::Load(const storage::ReadView& view, storage::RoomNumber room,
                                      std::string room_id, storage::Sequence seq) {
  RoomContext ctx;
  ctx.room = room;
  ctx.room_id = std::move(room_id);
  ctx.sequence = seq;
  for (std::string_view type : {"m.room.create", "m.room.power_levels", "m.room.member"}) {
    NEBU_ASSIGN_OR_RETURN(auto records, core::StateRecordsAt(view, room, seq, type));
    for (const storage::EventRecord& record : records) {
      NEBU_ASSIGN_OR_RETURN(json::object event, ParseContextObject(record.json));
      ctx.Advance(event);
    }
  }
  ctx.sequence = seq;
  return ctx;
}

void RoomContext::Advance(const json::object& event) {
  ++sequence;
  const json::value* state_key = event.if_contains("state_key");
  if (!state_key || !state_key->is_string()) return;
  const std::string_view type = StringOf(event, "type");
  const json::object* content = ContentOf(event);
  if (type == "m.room.member") {
    const std::string user(state_key->as_string());
    if (content && StringOf(*content, "membership") == "join") {
      joined[user] = std::string(StringOf(*content, "displayname"));
    } else {
      joined.erase(user);
    }
  } else if (type == "m.room.power_levels" && state_key->as_string().empty()) {
    power_levels = content ? *content : json::object{};
  } else if (type == "m.room.create" && state_key->as_string().empty()) {
    creator = std::string(StringOf(event, "sender"));
  }
}

}  // namespace nebu::push
