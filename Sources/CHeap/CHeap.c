// The functions are inline in include/CHeap.h; SwiftPM needs one source file.
#include "CHeap.h"
