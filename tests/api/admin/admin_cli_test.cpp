// Goal: `nebu admin create-user NAME [--admin|--auditor] --password-file F` makes a
// working account on a running node with the roles asked for (an admin gets the admin
// API and not the compliance API, an auditor the reverse), survives a restart, refuses
// a taken name and an unreadable password file, and against a stopped node fails with a
// clear message and changes nothing (the command works through the node's write path;
// a stopped node's data directory is not supported, by design: app/admin_commands.h).
// Method: the real `nebu` binary (tests/security/nebu_process.h) on loopback; the CLI
// run as a child process with the node's NEBU_* variables, its output and exit status
// read back.
#include <cstdio>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

const std::string kSecret = "admin-cli-test-shared-secret-0123456789";

class AdminCliTest : public SecurityTest {
 protected:
  struct Run {
    int exit_code = -1;
    std::string output;
  };
  // Runs `nebu admin ARGS` with the node's configuration; its exit code and output.
  Run Cli(const std::string& args) {
    const std::string command =
        "env -i PATH=/usr/bin:/bin NEBU_SERVER_NAME=localhost NEBU_DATA_DIR=" + DataDir() +
        " NEBU_CLIENT_ADDR=127.0.0.1:" + std::to_string(port_) +
        " NEBU_REGISTRATION_SHARED_SECRET=" + kSecret + " " + NEBU_BINARY + " admin " + args +
        " 2>&1 </dev/null";
    Run run;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) run.output += buffer;
    const int status = ::pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }
  std::string PasswordFile(const std::string& password) {
    const std::string path = dir_.path() + "/password";
    std::ofstream(path) << password << "\n";
    return path;
  }
  // The access token of a password login, "" when refused.
  std::string Login(const std::string& user, const std::string& password) {
    HttpReply r = Call("POST", "/login", "",
                       json::object{{"type", "m.login.password"},
                                    {"identifier", json::object{{"type", "m.id.user"},
                                                                {"user", user}}},
                                    {"password", password}});
    if (r.status != 200) return "";
    return std::string(json::parse(r.body).at("access_token").as_string());
  }
  // GET of a path as given (Call() puts paths not starting with "/_" below /_matrix/client/v3).
  int Get(const std::string& path, const std::string& token) {
    TestHttpClient client(nebu_.client_port());
    return client.connected() ? client.Call("GET", path, {}, std::string_view(token)).status : 0;
  }
  void StartNode() {
    Start({{"NEBU_REGISTRATION_SHARED_SECRET", kSecret}});
    port_ = nebu_.client_port();
  }
  uint16_t port_ = 0;
};

TEST_F(AdminCliTest, CreateUserMakesAdminsAndAuditorsOnARunningNode) {
  StartNode();
  const std::string password = "a long enough password 1";
  Run admin = Cli("create-user root --admin --password-file " + PasswordFile(password));
  ASSERT_EQ(admin.exit_code, 0) << admin.output;
  EXPECT_EQ(admin.output, "@root:localhost\n");
  std::string token = Login("root", password);
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Call("GET", "/_synapse/admin/v1/server_version", token).status, 200);
  EXPECT_EQ(Get("/api/v1/audit", token), 403);

  Run auditor = Cli("create-user watcher --auditor --password-file " + PasswordFile(password));
  ASSERT_EQ(auditor.exit_code, 0) << auditor.output;
  const std::string watcher = Login("watcher", password);
  ASSERT_FALSE(watcher.empty());
  EXPECT_EQ(Get("/api/v1/audit", watcher), 200);
  EXPECT_EQ(Call("GET", "/_synapse/admin/v1/server_version", watcher).status, 403);

  // A taken name and an unreadable file are refused (exit 1) and change nothing.
  Run again = Cli("create-user root --admin --password-file " + PasswordFile("other password 2"));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("refused"), std::string::npos) << again.output;
  EXPECT_FALSE(Login("root", password).empty());
  Run missing = Cli("create-user nobody --password-file " + dir_.path() + "/absent");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_EQ(Cli("create-user").exit_code, 2);

  // The roles survive a restart.
  Restart();
  port_ = nebu_.client_port();
  token = Login("root", password);
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Call("GET", "/_synapse/admin/v1/server_version", token).status, 200);
}

TEST_F(AdminCliTest, AStoppedNodeIsReportedAndNothingIsWritten) {
  StartNode();
  nebu_.Kill(SIGTERM);
  const std::string password = "a long enough password 3";
  Run run = Cli("create-user late --admin --password-file " + PasswordFile(password));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("no nonce"), std::string::npos) << run.output;
  StartNode();
  EXPECT_TRUE(Login("late", password).empty());
}

}  // namespace
}  // namespace nebu::security
