// Placeholder: filled by the hardening work (issue 7).
#include "tests/security/nebu_process.h"
