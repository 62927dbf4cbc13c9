// Goal: Status, Result<T> and the NEBU_* macros behave as engine/common/status.h says.
// Method: direct examples of each constructor, accessor and macro path.
#include "engine/common/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace nebu {
namespace {

TEST(StatusTest, DefaultStatusIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s, Status::Ok());
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  Status s = Status::NotFound("no such room");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "no such room");
  EXPECT_EQ(s.ToString(), "NotFound: no such room");
  EXPECT_EQ(Status::BadJson("x").code(), StatusCode::kBadJson);
  EXPECT_EQ(Status::TooLarge("x").code(), StatusCode::kTooLarge);
  EXPECT_EQ(Status::Internal("x").code(), StatusCode::kInternal);
}

TEST(StatusTest, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    EXPECT_NE(StatusCodeName(static_cast<StatusCode>(c)), "Unknown") << c;
  }
}

TEST(StatusTest, EqualityComparesCodeAndMessage) {
  EXPECT_EQ(Status::NotJson("a"), Status::NotJson("a"));
  EXPECT_NE(Status::NotJson("a"), Status::NotJson("b"));
  EXPECT_NE(Status::NotJson("a"), Status::BadJson("a"));
}

TEST(ResultTest, HoldsAValue) {
  Result<int> r = 7;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(r.value(), 7);
}

TEST(ResultTest, HoldsAnError) {
  Result<int> r = Status::NotFound("gone");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(ResultTest, BuiltFromOkStatusBecomesInternalError) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ResultTest, MovesMoveOnlyValuesOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(3);
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 3);
}

TEST(ResultTest, ArrowReachesMembers) {
  Result<std::string> r = std::string("abc");
  EXPECT_EQ(r->size(), 3u);
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  Result<int> r = Status::NotFound("gone");
  EXPECT_DEATH((void)r.value(), "value\\(\\) on an error Result");
}

TEST(CheckDeathTest, FailedCheckAbortsWithTheMessage) {
  EXPECT_DEATH(NEBU_CHECK(1 + 1 == 3, "arithmetic"), "check failed.*arithmetic");
}

TEST(CheckTest, PassingCheckDoesNothing) { NEBU_CHECK(true, "fine"); }

Status FailWhen(bool fail) { return fail ? Status::Forbidden("no") : Status::Ok(); }
Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Status ReturnIfError(bool fail, int* reached) {
  NEBU_RETURN_IF_ERROR(FailWhen(fail));
  *reached = 1;
  return Status::Ok();
}

Result<int> Quarter(int x) {
  NEBU_ASSIGN_OR_RETURN(int half, Half(x));
  NEBU_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(MacroTest, ReturnIfErrorReturnsTheFirstError) {
  int reached = 0;
  EXPECT_EQ(ReturnIfError(true, &reached).code(), StatusCode::kForbidden);
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(ReturnIfError(false, &reached).ok());
  EXPECT_EQ(reached, 1);
}

TEST(MacroTest, AssignOrReturnUnwrapsOrPropagates) {
  EXPECT_EQ(*Quarter(12), 3);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Quarter(7).status().message(), "odd");
}

}  // namespace
}  // namespace nebu
