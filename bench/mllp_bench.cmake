# mllp_bench: MLLP listener + durable inbox throughput (not a test: run build/bin/mllp_bench).
if(NOT TARGET vaxetl_mllp)
  return()
endif()
find_package(Poco REQUIRED COMPONENTS Net Foundation)
add_executable(mllp_bench ${CMAKE_CURRENT_LIST_DIR}/mllp_bench.cpp)
target_link_libraries(mllp_bench PRIVATE vaxetl_mllp spdlog::spdlog Threads::Threads)
