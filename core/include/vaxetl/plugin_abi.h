/*
 * vaxetl plugin ABI (C99). This header is the whole contract between the vaxetl host and a
 * plugin shared library; nothing else crosses the boundary.
 *
 * Versioning
 *   VAXETL_ABI_MAJOR changes when an existing struct or function changes meaning or layout.
 *   VAXETL_ABI_MINOR changes when something is appended to the end of a struct. Structs are
 *   append-only and start with `struct_size`, so a reader never touches bytes the writer did
 *   not have. The host loads a plugin whose major equals its own and whose minor is not newer.
 *
 * Ownership and lifetime (applies to every function below)
 *   - Strings and tables in a plugin descriptor are static data of the plugin; the host may
 *     keep pointers to them while the library stays loaded and never frees them.
 *   - Strings the host passes in (config values, run info, paths) are valid only for the
 *     duration of the call; a plugin copies what it keeps.
 *   - Strings a plugin passes to host callbacks (log, report) are copied by the host before
 *     the callback returns.
 *   - Errors come back in a host-owned vaxetl_error buffer; no allocation crosses the ABI.
 *   - Arrow structs move as the Arrow C Data Interface says: an `out` ArrowSchema/ArrowArray
 *     becomes the host's, which calls its `release` once; an `input` array passed to a
 *     transform or a sink is borrowed for the call only and stays the host's.
 *   - No C++ exception may leave a plugin function; the C++ SDK's trampolines catch them.
 *
 * Batches
 *   A batch is an Arrow struct array (format "+s") whose children are the record's columns.
 *   Every column is nullable; an empty field is null. Two columns are always present:
 *     "_record_no" (int64, "l"): the record's line number in the input file (1-based).
 *     "_raw"       (utf8,  "u"): the record exactly as it appeared in the input, no line end.
 *   A source that acknowledges messages (see `acknowledge`) may add "_reply" (utf8): its reply
 *   to the input record, on the record's first row, null on the others. The host then writes
 *   those replies as the error file without asking a second instance to validate again.
 *   Rows whose bit in the struct array's own validity bitmap is 0 were rejected or held by an
 *   earlier stage; later stages must skip them. A transform's output has exactly its input's
 *   rows in the same order, so row numbers stay valid through the pipeline.
 *
 * Per-record findings
 *   A stage never fails a batch because one record is bad: it calls host->report() with the
 *   row, field, code and severity, and carries on. VAXETL_SEVERITY_ERROR rejects the row,
 *   VAXETL_SEVERITY_HOLD holds it (kept, not loaded, with a reason), VAXETL_SEVERITY_WARNING
 *   keeps it. A status other than VAXETL_OK / VAXETL_END_OF_STREAM fails the whole input.
 *   When a source's open() or next_batch() returns VAXETL_INVALID_DATA (the input is refused
 *   whole), findings it reported during that call describe the file: their `row` is the
 *   input line number (0 when no line applies), and they become the error file's lines.
 *
 * Threads
 *   One plugin instance is never called from two threads at once. A source's calls come
 *   from the host's reader thread; a transform's and a sink's from the main thread. Different
 *   instances may run at the same time, so a plugin must not share mutable state between
 *   instances without its own locking.
 *
 * PHI: messages given to log() and report() must never contain a value from a record.
 * Name the field, its position and the rule; the error file carries the record itself.
 */
#ifndef VAXETL_PLUGIN_ABI_H
#define VAXETL_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "vaxetl/arrow_c_data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VAXETL_ABI_MAJOR 1
#define VAXETL_ABI_MINOR 2

/* The one symbol every plugin exports (extern "C", default visibility). */
#define VAXETL_PLUGIN_ENTRY_SYMBOL "vaxetl_plugin_entry"

typedef enum vaxetl_status {
  VAXETL_OK = 0,
  VAXETL_END_OF_STREAM = 1, /* source: no more batches */
  VAXETL_RETRY = 2,         /* transient condition (lock, network); the call may be repeated */
  VAXETL_INVALID_CONFIG = 3,
  VAXETL_INVALID_DATA = 4,  /* the input as a whole is malformed and is rejected */
  VAXETL_IO_ERROR = 5,
  VAXETL_INTERNAL = 6,      /* a defect in the plugin; the run fails */
  VAXETL_FATAL = 7          /* the plugin cannot continue in this process */
} vaxetl_status;

typedef enum vaxetl_plugin_kind {
  VAXETL_KIND_SOURCE = 1,
  VAXETL_KIND_TRANSFORM = 2,
  VAXETL_KIND_SINK = 3
} vaxetl_plugin_kind;

typedef enum vaxetl_log_level {
  VAXETL_LOG_DEBUG = 1,
  VAXETL_LOG_INFO = 2,
  VAXETL_LOG_WARN = 3,
  VAXETL_LOG_ERROR = 4
} vaxetl_log_level;

typedef enum vaxetl_severity {
  VAXETL_SEVERITY_ERROR = 1,   /* the record is rejected */
  VAXETL_SEVERITY_WARNING = 2, /* the record continues; the finding goes to the error file */
  VAXETL_SEVERITY_HOLD = 3     /* the record is held: not loaded, kept, with the reason */
} vaxetl_severity;

/* What a sink did with a live row (ABI 1.1, vaxetl_host_api.record_outcome). A row the sink
 * rejects is reported as a finding instead. */
typedef enum vaxetl_record_outcome {
  VAXETL_OUTCOME_ADDED = 1,     /* a new vaccination (or recipient) was stored */
  VAXETL_OUTCOME_UPDATED = 2,   /* a stored vaccination was replaced (action U); history kept */
  VAXETL_OUTCOME_VOIDED = 3,    /* a stored vaccination was voided (action D); history kept */
  VAXETL_OUTCOME_UNCHANGED = 4  /* the store already held exactly this; nothing written */
} vaxetl_record_outcome;

typedef enum vaxetl_run_mode {
  VAXETL_MODE_LOAD = 0,
  VAXETL_MODE_VALIDATE = 1 /* everything but the load: sinks must leave no trace */
} vaxetl_run_mode;

/* ---- configuration schema --------------------------------------------------------------- */

typedef enum vaxetl_config_type {
  VAXETL_CONFIG_STRING = 1,
  VAXETL_CONFIG_INT = 2,    /* decimal, fits int64 */
  VAXETL_CONFIG_BOOL = 3,   /* true / false */
  VAXETL_CONFIG_ENUM = 4,   /* one of allowed_values */
  VAXETL_CONFIG_PATH = 5,   /* a filesystem path; relative paths are the plugin's to resolve */
  VAXETL_CONFIG_DOUBLE = 6,
  /* ABI 1.2. A store location: a SQLite path or a PostgreSQL URL (postgresql://...). The host
   * prints it with any password hidden, and `vaxetl db migrate` applies the plugin's migration
   * files to it: <plugin data dir>/migrations/{sqlite,postgresql}/NNNN_description.sql, recorded
   * under the plugin's name in vaxetl_schema_migrations. The data dir is
   * vaxetl_stage_context.plugin_dir/<name>-<version>. */
  VAXETL_CONFIG_STORE = 7
} vaxetl_config_type;

#define VAXETL_CONFIG_REQUIRED 1u
#define VAXETL_CONFIG_SECRET 2u /* the host masks the value wherever it prints it */

typedef struct vaxetl_config_field {
  const char* name;
  uint32_t type;                      /* vaxetl_config_type */
  uint32_t flags;                     /* VAXETL_CONFIG_REQUIRED | VAXETL_CONFIG_SECRET */
  const char* default_value;          /* NULL: no default */
  const char* const* allowed_values;  /* NULL-terminated, for VAXETL_CONFIG_ENUM; else NULL */
  const char* description;
} vaxetl_config_field;

/* A column a stage consumes or produces. Format is an Arrow format string ("u", "l"). */
#define VAXETL_COLUMN_REQUIRED 1u /* consumes: the pipeline is refused if no earlier stage
                                     produces it */
typedef struct vaxetl_column {
  const char* name;
  const char* format;
  uint32_t flags;
  const char* description;
} vaxetl_column;

/* ---- what the host gives a plugin -------------------------------------------------------- */

typedef struct vaxetl_finding {
  uint32_t struct_size;
  int64_t row;             /* row in the batch being built (source) or processed (others) */
  uint32_t field_position; /* 1-based position in the input layout; 0: the whole record */
  const char* field_name;  /* NULL for a whole-record finding */
  const char* code;        /* stable, documented code */
  uint32_t severity;       /* vaxetl_severity */
  const char* message;     /* what is wrong and what to send instead; never a record value */
} vaxetl_finding;

typedef struct vaxetl_host_api {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  void* context; /* opaque; pass back to the callbacks */
  void (*log)(void* context, uint32_t level, const char* message);
  void (*report)(void* context, const vaxetl_finding* finding);
  /* ABI 1.1: what a sink did to the store with a live row (vaxetl_record_outcome), so the host
   * can count changes per run and show a dry run's effect record by record. Optional for the
   * plugin; a plugin must check struct_size before calling it (a 1.0 host lacks it). */
  void (*record_outcome)(void* context, int64_t row, uint32_t outcome);
} vaxetl_host_api;

typedef struct vaxetl_config_entry {
  const char* key;
  const char* value; /* validated against the field table, defaults applied */
} vaxetl_config_entry;

typedef struct vaxetl_create_params {
  uint32_t struct_size;
  const vaxetl_host_api* host; /* valid until destroy() returns */
  const vaxetl_config_entry* config;
  uint32_t config_count;
  const char* plugin_dir; /* the directory the library was loaded from (data files live here) */
} vaxetl_create_params;

typedef struct vaxetl_run_info {
  uint32_t struct_size;
  const char* run_id;
  const char* pipeline_name;
  const char* input_path;
  const char* input_sha256; /* hex */
  uint32_t mode;            /* vaxetl_run_mode */
} vaxetl_run_info;

#define VAXETL_ERROR_MESSAGE_SIZE 1024
typedef struct vaxetl_error {
  char message[VAXETL_ERROR_MESSAGE_SIZE]; /* host zero-fills; plugin writes a C string */
} vaxetl_error;

/* ---- function tables, one per kind ------------------------------------------------------- */

typedef struct vaxetl_source_api {
  uint32_t struct_size;
  vaxetl_status (*create)(const vaxetl_create_params* params, void** instance, vaxetl_error* err);
  void (*destroy)(void* instance);
  /* Opens run->input_path. May already return VAXETL_INVALID_DATA for a malformed header. */
  vaxetl_status (*open)(void* instance, const vaxetl_run_info* run, vaxetl_error* err);
  /* Fills the schema of the batches this input yields; called once after open(). */
  vaxetl_status (*get_schema)(void* instance, struct ArrowSchema* out, vaxetl_error* err);
  /* OK with 1..max_rows rows in *out, or END_OF_STREAM with *out untouched. */
  vaxetl_status (*next_batch)(void* instance, uint32_t max_rows, struct ArrowArray* out,
                              vaxetl_error* err);
  /* Bytes consumed and input size, for progress. */
  void (*progress)(void* instance, uint64_t* bytes_done, uint64_t* bytes_total);
  void (*close)(void* instance);
  /* Optional (may be NULL). After open() or next_batch() refused the input with
   * VAXETL_INVALID_DATA: how many records of the input were not returned in a batch (best
   * effort, e.g. the lines after a bad header), so the host counts them as rejected and every
   * record of a refused file is accounted for. */
  uint64_t (*unreturned_records)(void* instance);
  /* Optional (may be NULL), for sources of a message protocol (HL7 over MLLP): validates one
   * message of `length` bytes on its own and writes the protocol's reply (an HL7 ACK) into
   * `out`, at most `capacity` bytes, setting *out_length. Called outside open()/next_batch(),
   * on an instance used for nothing else, from one thread at a time. */
  vaxetl_status (*acknowledge)(void* instance, const char* message, size_t length, char* out,
                               size_t capacity, size_t* out_length, vaxetl_error* err);
} vaxetl_source_api;

typedef struct vaxetl_transform_api {
  uint32_t struct_size;
  vaxetl_status (*create)(const vaxetl_create_params* params, void** instance, vaxetl_error* err);
  void (*destroy)(void* instance);
  /* Given the input schema, fills the output schema (input columns plus added ones). */
  vaxetl_status (*begin)(void* instance, const vaxetl_run_info* run,
                         const struct ArrowSchema* input, struct ArrowSchema* out,
                         vaxetl_error* err);
  vaxetl_status (*process)(void* instance, const struct ArrowArray* input, struct ArrowArray* out,
                           vaxetl_error* err);
  vaxetl_status (*finish)(void* instance, vaxetl_error* err);
} vaxetl_transform_api;

typedef struct vaxetl_sink_api {
  uint32_t struct_size;
  vaxetl_status (*create)(const vaxetl_create_params* params, void** instance, vaxetl_error* err);
  void (*destroy)(void* instance);
  /* Starts one transaction for the whole input. */
  vaxetl_status (*begin)(void* instance, const vaxetl_run_info* run,
                         const struct ArrowSchema* schema, vaxetl_error* err);
  vaxetl_status (*write)(void* instance, const struct ArrowArray* batch, vaxetl_error* err);
  /* Makes the input's changes durable (in VAXETL_MODE_VALIDATE: discards them). */
  vaxetl_status (*commit)(void* instance, vaxetl_error* err);
  /* Discards everything since begin(); cannot fail. */
  void (*rollback)(void* instance);
} vaxetl_sink_api;

/* ---- the descriptor a plugin fills ------------------------------------------------------- */

typedef struct vaxetl_plugin_descriptor {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t kind; /* vaxetl_plugin_kind */
  const char* name;    /* lower-case, [a-z0-9_] */
  const char* version; /* semantic version MAJOR.MINOR.PATCH */
  const char* description;
  const char* license;
  const char* origin;  /* who ships it: a URL or an organisation */
  const vaxetl_config_field* config_fields;
  uint32_t config_field_count;
  const vaxetl_column* consumes;
  uint32_t consumes_count;
  const vaxetl_column* produces;
  uint32_t produces_count;
  const vaxetl_source_api* source;       /* exactly the one matching kind is non-NULL */
  const vaxetl_transform_api* transform;
  const vaxetl_sink_api* sink;
} vaxetl_plugin_descriptor;

/*
 * Fills at most out_size bytes of *out (the host's sizeof its descriptor) and sets
 * out->struct_size to the number of bytes written. Must set abi_major and abi_minor even when
 * it returns an error, so the host can explain a version mismatch.
 */
typedef vaxetl_status (*vaxetl_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                vaxetl_plugin_descriptor* out, size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* VAXETL_PLUGIN_ABI_H */
