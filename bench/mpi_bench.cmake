# mpi_bench: the patient matcher over the labelled data in ../shared/mpi-data and a generated
# population (not a test: run build/bin/mpi_bench; see docs/mpi-matching.md).
if(NOT TARGET vaxetl_mpi_matcher)
  return()
endif()
add_executable(mpi_bench ${CMAKE_CURRENT_LIST_DIR}/mpi_bench.cpp ${CMAKE_CURRENT_LIST_DIR}/mpi_bench_population.cpp)
target_link_libraries(mpi_bench PRIVATE vaxetl_mpi_matcher)
target_compile_definitions(mpi_bench PRIVATE
  VAXETL_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  VAXETL_MPI_DATA_DIR="${VAXETL_MPI_DATA_SOURCE_DIR}")
if(TARGET vaxetl_mpi_population)
  target_link_libraries(mpi_bench PRIVATE vaxetl_mpi_population)
  target_include_directories(mpi_bench PRIVATE ${CMAKE_SOURCE_DIR}/tools/mpi_gen)
  target_compile_definitions(mpi_bench PRIVATE VAXETL_MPI_BENCH_POPULATION=1)
endif()
