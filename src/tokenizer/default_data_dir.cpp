#include "costgate/tokenizer/encoding.h"

namespace costgate::tokenizer {

// COSTGATE_DEFAULT_TOKENIZER_DIR is an absolute path, defined for this file alone: on every file's
// command line it would make each checkout's objects differ, and ccache miss for all of them.
const char* defaultDataDir() { return COSTGATE_DEFAULT_TOKENIZER_DIR; }

}  // namespace costgate::tokenizer
