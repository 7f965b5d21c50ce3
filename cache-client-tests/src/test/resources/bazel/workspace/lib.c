#include "lib.h"
int answer(void) { return 42; }
