#include "ncvr_gen.hpp"

int main(int argc, char** argv) { return vaxetl::ncvr_gen::run_cli(argc, argv); }
