#include "api/body_source.h"

#include <charconv>
#include <chrono>
#include <map>
#include <mutex>

namespace nebu::api {
namespace {

struct Parked {
  std::shared_ptr<BodySource> source;
  std::chrono::steady_clock::time_point at;
};

struct Table {
  std::mutex mutex;
  uint64_t next_id = 1;                 // guarded by mutex
  std::map<uint64_t, Parked> parked;    // guarded by mutex; oldest first (ids grow)
};

Table& TheTable() {
  static Table* table = new Table();  // never destroyed: used until the process exits
  return *table;
}

}  // namespace

void AttachBodySource(Response& response, std::shared_ptr<BodySource> source) {
  Table& table = TheTable();
  const auto now = std::chrono::steady_clock::now();
  std::shared_ptr<BodySource> expired;  // dropped outside the lock
  uint64_t id = 0;
  {
    std::lock_guard lock(table.mutex);
    for (auto it = table.parked.begin(); it != table.parked.end();) {
      if (now - it->second.at < std::chrono::milliseconds(kBodySourceClaimMsMax)) break;
      expired = std::move(it->second.source);
      it = table.parked.erase(it);
    }
    id = table.next_id++;
    table.parked.emplace(id, Parked{std::move(source), now});
  }
  response.body.clear();
  response.headers.Set(kBodySourceHeader, std::to_string(id));
}

std::shared_ptr<BodySource> TakeBodySource(const Response& response, bool* expired) {
  *expired = false;
  std::optional<std::string_view> text = response.headers.Get(kBodySourceHeader);
  if (!text) return nullptr;
  uint64_t id = 0;
  std::from_chars(text->data(), text->data() + text->size(), id);
  Table& table = TheTable();
  std::lock_guard lock(table.mutex);
  auto it = table.parked.find(id);
  if (it == table.parked.end()) {
    *expired = true;
    return nullptr;
  }
  std::shared_ptr<BodySource> source = std::move(it->second.source);
  table.parked.erase(it);
  return source;
}

}  // namespace nebu::api
