#include <stdio.h>
#include "lib.h"
int main(void) { printf("%d\n", answer()); return 0; }
