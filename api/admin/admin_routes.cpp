#include "api/admin/admin_routes.h"

#include "api/admin/admin_common.h"

namespace nebu::api {

std::vector<AdminRoute> AddAdminApiRoutes(Router& router, core::Engine& engine,
                                          const AdminRoutesOptions& options) {
  auto context = std::make_shared<admin_internal::Context>(engine, options);
  admin_internal::AddUserRoutes(router, context);
  admin_internal::AddRoomRoutes(router, context);
  admin_internal::AddAuditRoutes(router, context);
  admin_internal::AddRegisterRoutes(router, context);
  admin_internal::AddTokenRoutes(router, context);
  admin_internal::AddReportRoutes(router, context);
  admin_internal::AddMediaAdminRoutes(router, context);
  admin_internal::AddServerNoticeRoutes(router, context);
  admin_internal::AddExportRoutes(router, context);
  admin_internal::AddStatsRoutes(router, context);
  admin_internal::AddComplianceRoutes(router, context);
  admin_internal::AddRoomDeleteRoutes(router, context);
  admin_internal::AddModerationRoutes(router, context);
  return context->routes;
}

}  // namespace nebu::api
