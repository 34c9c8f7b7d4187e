/* Makes the public header (include/hrnet.h) visible to the Swift API layer, which implements it
 * with @_cdecl functions: one definition of every type, checked by the compiler on both sides. */
#include "../../../include/hrnet.h"
