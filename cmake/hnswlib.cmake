# Debian's hnswlib (0.6.2), with two kinds of undefined behaviour fixed, both found by
# scripts/asan.sh (MemoryStore's indexed-partition unit tests), neither one a false positive, so
# fixed rather than suppressed. The build copies the headers into
# ${CMAKE_CURRENT_BINARY_DIR}/generated/hnswlib/ with the lines below changed; the configuration
# fails if hnswalg.h no longer has one of them (another hnswlib: check whether it still needs it).
#
# 1. Prefetches past a link list.
# With SSE (every x86-64 build), hnswlib prefetches the neighbour after the one it looks at, and
# after the last neighbour of a full list reads one entry past the list: on a node's top level
# that is 4 bytes past the end of a malloc'd block, which AddressSanitizer reports as a
# heap-buffer-overflow (MemoryStore's indexed-partition unit tests under scripts/asan.sh); on
# level 0 it reads the first float of the vector as a node id to prefetch. Upstream knows
# (nmslib/hnswlib issue 107, pull request 459, both still open). Fixed: the last neighbour
# prefetches itself instead of the entry after it.
#
# 2. getConnectionsWithLock() copies a node's links with memcpy(result.data(), ...), and for a
# node without links result.data() is null: memcpy's arguments must never be (UBSan: "null pointer
# passed as argument 1", when ApproximateIndex::add() reuses a removed entry's place through
# updatePoint()). Fixed: nothing is copied when there is nothing to copy.
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswalg.h REQUIRED)
set(hnswlib_patched_dir ${CMAKE_CURRENT_BINARY_DIR}/generated/hnswlib)
file(GLOB hnswlib_headers ${HNSWLIB_INCLUDE_DIR}/hnswlib/*.h)
foreach(header IN LISTS hnswlib_headers)
  get_filename_component(name ${header} NAME)
  if(NOT name STREQUAL "hnswalg.h")
    configure_file(${header} ${hnswlib_patched_dir}/${name} COPYONLY)
  endif()
endforeach()

file(READ ${HNSWLIB_INCLUDE_DIR}/hnswlib/hnswalg.h hnswalg)
# 1: in searchBaseLayer (j in [0, size)), searchBaseLayerST (j in [1, size]) and
# repairConnectionsForUpdate (i in [0, size)), the next neighbour while there is one. 2: the copy.
foreach(fix IN ITEMS
    "*(datal + j + 1)|*(datal + j + (j + 1 < size))"
    "*(data + j + 1)|*(data + j + (j < size))"
    "*(datal + i + 1)|*(datal + i + (i + 1 < size))"
    "memcpy(result.data(), ll,size * sizeof(tableint))|if (size > 0) memcpy(result.data(), ll, size * sizeof(tableint))")
  string(REPLACE "|" ";" fix "${fix}")
  list(GET fix 0 from)
  list(GET fix 1 to)
  string(FIND "${hnswalg}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${HNSWLIB_INCLUDE_DIR}/hnswlib/hnswalg.h has no '${from}': see "
      "cmake/hnswlib.cmake")
  endif()
  string(REPLACE "${from}" "${to}" hnswalg "${hnswalg}")
endforeach()
# Written through a copy that changes only when the text does, so a reconfiguration rebuilds nothing.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/hnswalg.h.new "${hnswalg}")
configure_file(${CMAKE_CURRENT_BINARY_DIR}/hnswalg.h.new ${hnswlib_patched_dir}/hnswalg.h COPYONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${HNSWLIB_INCLUDE_DIR}/hnswlib/hnswalg.h)
unset(hnswalg)
# vector_index.cpp includes <hnswlib/hnswlib.h>: this directory, as a system one (hnswlib's own
# warnings are not ours), is searched before /usr/include.
set(HNSWLIB_PATCHED_INCLUDE_DIR ${CMAKE_CURRENT_BINARY_DIR}/generated)
