# Settings every RoadMQ target gets: strict warnings on our own code only
# (third-party headers come in as SYSTEM through their imported targets).
function(roadmq_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
                                           -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 misfires on std::variant/optional moves at -O2.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-stringop-overflow)
  endif()
endfunction()

# roadmq_module(NAME SOURCES... [DEPS ...]): a library target roadmq_NAME with
# alias roadmq::NAME, including from src/.
function(roadmq_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(roadmq_${name} STATIC ${M_SOURCES})
  add_library(roadmq::${name} ALIAS roadmq_${name})
  target_include_directories(roadmq_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(roadmq_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  roadmq_target_defaults(roadmq_${name})
endfunction()
