# VXU parse benchmark: our HL7 parser against Debian's python3-hl7 on the same generated file.
# Not part of ctest: run build/bin/vxu_parse_bench [--messages N].
add_executable(vxu_parse_bench ${CMAKE_CURRENT_SOURCE_DIR}/vxu_parse_bench.cpp)
target_link_libraries(vxu_parse_bench PRIVATE vaxetl_vxu_rules)
target_compile_definitions(vxu_parse_bench PRIVATE VAXETL_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
