// LeakSanitizer suppressions for cvms_store_test (read only in the ASan build).
// PgStoreTest.ALoadWhoseConnectionIsKilledBeforeCommitLeavesNothing kills the store's server
// connection on purpose. Poco's PostgreSQL connector then never calls PQfinish (it frees a
// connection only while its status is OK), so libpq's connection object and its COPY buffer
// stay allocated. Both suppressions match only allocations made inside libpq for a connection
// Poco opened; the store's own allocations are still checked.
// Default visibility: the project builds with hidden symbols, and the runtime must find this one.
extern "C" __attribute__((visibility("default"))) const char* __lsan_default_suppressions() {
  return "leak:Poco::Data::PostgreSQL::SessionHandle::connect\n"
         "leak:PQputCopyData\n";
}
