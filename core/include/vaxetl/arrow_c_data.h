/*
 * The Arrow C Data Interface structures, declared from the public specification
 * (https://arrow.apache.org/docs/format/CDataInterface.html). The layout is fixed by that
 * specification; the guard macro is the one the specification names, so a plugin that also
 * includes Arrow's own header gets a single definition.
 *
 * Ownership (the specification's move semantics, restated for vaxetl):
 *   - Whoever fills an ArrowSchema/ArrowArray is the producer; it sets `release`.
 *   - The consumer that ends up holding the struct calls `release` exactly once and must not
 *     touch the struct afterwards except to see `release == NULL`.
 *   - Moving a struct means copying it bitwise and setting the source's `release` to NULL.
 */
#ifndef VAXETL_ARROW_C_DATA_H
#define VAXETL_ARROW_C_DATA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifdef __cplusplus
}
#endif

#endif /* VAXETL_ARROW_C_DATA_H */
