// Internal to api/compliance: the route groups AddComplianceRoutes (hold_routes.cpp)
// mounts through admin_internal::AddRoute (role check + audit record):
//   /api/v1/holds[/{holdId}]                    legal holds (auditors)       hold_routes.cpp
//   /_synapse/admin/v1/purge_history[_status]   Synapse's purge (admins)    purge_routes.cpp
//   /api/v1/retention/report                    the retention dry run (auditors)
#pragma once

#include "api/admin/admin_common.h"

namespace nebu::api::admin_internal {

// The most holds one GET /api/v1/holds answers (then next_token).
inline constexpr size_t kHoldsPageMax = 1000;

void AddPurgeRoutes(Router& router, const ContextPtr& context);

}  // namespace nebu::api::admin_internal
