# VXU benchmark: our HL7 parser against Debian's python3-hl7 on the same generated file, and the
# same file loaded end to end by vaxetl run (vxu -> cvms_sink, SQLite).
# Not part of ctest: run build/bin/vxu_parse_bench [--messages N].
add_executable(vxu_parse_bench ${CMAKE_CURRENT_SOURCE_DIR}/vxu_parse_bench.cpp)
target_link_libraries(vxu_parse_bench PRIVATE vaxetl_vxu_rules)
target_compile_definitions(vxu_parse_bench PRIVATE VAXETL_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  VAXETL_BIN_DIR="${CMAKE_RUNTIME_OUTPUT_DIRECTORY}" VAXETL_PLUGIN_DIR="${VAXETL_PLUGIN_OUTPUT_DIR}")
# The end-to-end part runs the CLI with the real plugins.
add_dependencies(vxu_parse_bench vaxetl vaxetl_vxu_plugin vaxetl_cvms_sink_plugin)
